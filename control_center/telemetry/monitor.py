"""Presence, silence and alerts, kept in SQL by one thread that wakes every few seconds.

Online/offline comes from the retained birth and the last will (``services.ingest`` stores
them on ``devices`` and records each change here as ``device_status_changes``). A device that
is online but has not been heard (status, event or health sample) for ``silence_s`` is
flagged silent: a hung agent or a half-open 4G link sends no will. The latest health sample
of each device is kept in ``device_health``; alerts are opened and resolved from these.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from control_center.models import (
    Alert,
    AlertKind,
    AlertState,
    Device,
    DeviceHealth,
    DeviceStatusChange,
    PlayLog,
    PlayStatus,
    PresenceCause,
)
from control_center.services.manifest_lag import devices_behind
from control_center.telemetry.health_fields import READINGS
from protocol.telemetry import HealthSample

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MonitorOptions:
    interval_s: float = 10.0
    silence_s: float = 180.0
    offline_alert_s: float = 900.0
    disk_free_pct: float = 10.0
    temp_c: float = 80.0
    clock_offset_ms: float = 1000.0
    player_stalled_s: float = 180.0
    republish_settle_s: float = 10.0
    play_failures: int = 3
    play_failure_window_s: float = 24 * 3600.0
    webhook_url: str | None = None


def record_status_change(session: Session, *, device: Device, online: bool,
                         at: datetime) -> None:
    """Called by the ingestor when a birth or a will changes ``devices.online``."""
    session.add(DeviceStatusChange(device_id=device.id, online=online, at=at,
                                   cause=PresenceCause.BIRTH if online else PresenceCause.WILL))


class Monitor:
    def __init__(self, *, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 options: MonitorOptions,
                 on_manifest_behind: Callable[[str], object] | None = None,
                 leading: Callable[[], bool] = lambda: True) -> None:
        """``on_manifest_behind(device_id)``: the device's latest sample holds an older
        manifest than the one published to it (``services.manifest_lag``). ``leading()``:
        whether this process judges presence and raises alerts (in a center of several
        processes, one does; every process stores the samples it received)."""
        self._leading = leading
        self._sessions = sessions
        self._on_behind = on_manifest_behind
        self._clock = clock
        self.options = options
        self._lock = threading.Lock()
        self._latest: dict[str, HealthSample] = {}
        self._heard: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ticked = threading.Condition()
        self.ticks = 0
        self.counters: Counter[str] = Counter()
        self._http = httpx.Client(timeout=5.0) if options.webhook_url else None

    # -- fed by the MQTT thread ------------------------------------------------------------

    def sample(self, device_id: str, sample: HealthSample, now: datetime) -> None:
        with self._lock:
            held = self._latest.get(device_id)
            if held is None or sample.at >= held.at:
                self._latest[device_id] = sample
            self._heard[device_id] = now

    def heard(self, device_id: str, now: datetime) -> None:
        with self._lock:
            self._heard[device_id] = now

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._http is not None:
            self._http.close()

    def wait_ticks(self, count: int, timeout: float) -> bool:
        """Block until ``count`` more checks have run (tests)."""
        with self._ticked:
            target = self.ticks + count
            return self._ticked.wait_for(lambda: self.ticks >= target, timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.options.interval_s):
            try:
                self.tick()
            except Exception:
                log.exception("monitor: check failed")
                self.counters["errors"] += 1

    # -- one check -------------------------------------------------------------------------------

    def tick(self) -> None:
        with self._lock:
            latest, self._latest = self._latest, {}
            heard, self._heard = self._heard, {}
        now = self._clock()
        notices: list[tuple[str, Alert]] = []
        behind: list[str] = []
        try:
            with self._sessions.begin() as session:
                health = self._store_samples(session, latest, heard)
                behind = devices_behind(
                    session, now=now, settle=timedelta(seconds=self.options.republish_settle_s),
                    reported={d: s.manifest_version or 0 for d, s in latest.items()
                              if d in health})
                if self._leading():
                    devices = session.scalars(select(Device)).all()
                    for device in devices:
                        if device.id not in health:
                            health[device.id] = DeviceHealth(device_id=device.id, silent=False)
                            session.add(health[device.id])
                        self._presence(session, device, health[device.id], now)
                    notices = self._alerts(session, devices, health, now)
        except Exception:
            with self._lock:  # keep what was not stored for the next check
                for device_id, sample in latest.items():
                    self._latest.setdefault(device_id, sample)
                for device_id, at in heard.items():
                    self._heard.setdefault(device_id, at)
            raise
        for event, alert in notices:
            self._notify(event, alert)
        if self._on_behind is not None:
            for device_id in behind:
                self._on_behind(device_id)
        with self._ticked:
            self.ticks += 1
            self._ticked.notify_all()

    def _store_samples(self, session: Session, latest: dict[str, HealthSample],
                       heard: dict[str, datetime]) -> dict[str, DeviceHealth]:
        health = {h.device_id: h for h in session.scalars(select(DeviceHealth))}
        known = set(session.scalars(select(Device.id)))
        for device_id, at in heard.items():
            if device_id not in known:
                continue
            row = health.get(device_id)
            if row is None:
                row = health[device_id] = DeviceHealth(device_id=device_id, silent=False)
                session.add(row)
            row.last_heard_at = max(at, row.last_heard_at) if row.last_heard_at else at
            sample = latest.get(device_id)
            if sample is not None and (row.sample_at is None or sample.at >= row.sample_at):
                row.sample_at = sample.at
                for name in READINGS:  # a column per reading; an enum's column holds its value
                    value = getattr(sample, name)
                    setattr(row, name, value.value if isinstance(value, Enum) else value)
        return health

    def _presence(self, session: Session, device: Device, row: DeviceHealth,
                  now: datetime) -> None:
        heard = [t for t in (device.last_seen_at, row.last_heard_at) if t is not None]
        last = max(heard) if heard else None
        if row.last_heard_at and (device.last_seen_at is None or
                                  row.last_heard_at > device.last_seen_at):
            device.last_seen_at = row.last_heard_at
        silent = device.online and (
            last is None or now - last > timedelta(seconds=self.options.silence_s))
        if silent and not row.silent:
            row.silent, row.silent_since = True, now
            session.add(DeviceStatusChange(device_id=device.id, online=False, at=now,
                                           cause=PresenceCause.SILENCE))
            log.warning("monitor: %s silent since %s", device.id, last)
        elif not silent and row.silent:
            row.silent, row.silent_since = False, None
            if device.online:
                session.add(DeviceStatusChange(device_id=device.id, online=True, at=now,
                                               cause=PresenceCause.HEARD))

    def _failures(self, session: Session, now: datetime) -> dict[str, int]:
        """Failed plays per device since its last completed play, within the window."""
        since = now - timedelta(seconds=self.options.play_failure_window_s)
        last_ok = {device_id: at for device_id, at in session.execute(
            select(PlayLog.device_id, func.max(PlayLog.updated_at))
            .where(PlayLog.status == PlayStatus.COMPLETED, PlayLog.updated_at >= since)
            .group_by(PlayLog.device_id))}
        counts: Counter[str] = Counter()
        for device_id, at in session.execute(
            select(PlayLog.device_id, PlayLog.updated_at)
            .where(PlayLog.status == PlayStatus.FAILED, PlayLog.updated_at >= since)
        ):
            ok_at = last_ok.get(device_id)
            if ok_at is None or at > ok_at:
                counts[device_id] += 1
        return counts

    def _conditions(self, device: Device, row: DeviceHealth, failures: int,
                    now: datetime) -> dict[AlertKind, tuple[str, float | None] | None]:
        o = self.options
        down_since = (device.status_changed_at or device.created_at) if not device.online else (
            row.silent_since if row.silent else None)
        offline = None
        if down_since is not None and now - down_since >= timedelta(seconds=o.offline_alert_s):
            why = "im lặng / silent" if device.online else "ngoại tuyến / offline"
            offline = (f"{why} từ / since {down_since.isoformat()}",
                       (now - down_since).total_seconds())
        return {
            AlertKind.OFFLINE: offline,
            AlertKind.PLAYBACK_FAILURES: (
                (f"{failures} lần phát lỗi liên tiếp / consecutive failed plays", float(failures))
                if failures >= o.play_failures else None),
            AlertKind.DISK_LOW: (
                (f"còn trống / free {row.disk_free_pct:.1f} %", row.disk_free_pct)
                if row.disk_free_pct is not None and row.disk_free_pct < o.disk_free_pct
                else None),
            AlertKind.OVERHEATING: (
                (f"CPU {row.cpu_temp_c:.1f} °C", row.cpu_temp_c)
                if row.cpu_temp_c is not None and row.cpu_temp_c >= o.temp_c else None),
            AlertKind.CLOCK_UNTRUSTED: (
                (f"lệch đồng hồ / clock offset {row.clock_offset_ms:.0f} ms", row.clock_offset_ms)
                if row.clock_offset_ms is not None
                and abs(row.clock_offset_ms) > o.clock_offset_ms else None),
            AlertKind.PLAYER_STALLED: self._player_stalled(device, row),
        }

    def _player_stalled(self, device: Device, row: DeviceHealth) -> tuple[str, float] | None:
        """The latest sample says the player loop has not gone round for longer than the
        threshold while the device is online and heard: alive to the center, playing nothing."""
        beat = (row.heartbeats or {}).get("player")
        if beat is None or not device.online or row.silent or beat <= self.options.player_stalled_s:
            return None
        return (f"trình phát đứng yên {beat:.0f} s / the player has not advanced for "
                f"{beat:.0f} s", float(beat))

    def _alerts(self, session: Session, devices: Sequence[Device],
                health: dict[str, DeviceHealth], now: datetime) -> list[tuple[str, Alert]]:
        held = {(a.device_id, a.kind): a for a in session.scalars(
            select(Alert).where(Alert.state != AlertState.RESOLVED))}
        failures = self._failures(session, now)
        notices: list[tuple[str, Alert]] = []
        for device in devices:
            conditions = self._conditions(device, health[device.id], failures[device.id], now)
            for kind, active in conditions.items():
                alert = held.get((device.id, kind))
                if active is not None and alert is None:
                    alert = Alert(device_id=device.id, kind=kind, state=AlertState.OPEN,
                                  detail=active[0], value=active[1], opened_at=now)
                    session.add(alert)
                    session.flush()
                    notices.append(("alert_opened", alert))
                    log.warning("alert opened: %s %s (%s)", device.id, kind.value, active[0])
                elif active is not None and alert is not None:
                    alert.detail, alert.value = active
                elif active is None and alert is not None:
                    alert.state, alert.resolved_at = AlertState.RESOLVED, now
                    notices.append(("alert_resolved", alert))
        return notices

    def _notify(self, event: str, alert: Alert) -> None:
        if self._http is None or self.options.webhook_url is None:
            return
        body = {"event": event, "alert": {
            "id": alert.id, "device_id": alert.device_id, "kind": alert.kind.value,
            "state": alert.state.value, "detail": alert.detail, "value": alert.value,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None}}
        try:
            self._http.post(self.options.webhook_url, json=body).raise_for_status()
            self.counters["webhook_sent"] += 1
        except httpx.HTTPError as exc:
            self.counters["webhook_failed"] += 1
            log.warning("alert webhook %s failed: %s", self.options.webhook_url, exc)
