"""Health samples: read the system (on a Pi: /proc, /sys) and the agent, every N seconds.

Samples go through the outbox like events, so a sample taken offline reaches the center
later with the instant it was taken. The system readings sit behind ``SystemProbe`` so the
simulator (``firmware_sim.sensors``) can stand in for a Pi's sensors.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from edge_agent.clock import Clock
from edge_agent.config import HealthConfig
from edge_agent.hardware import Amplifier, VolumeControl
from edge_agent.speech.status import SpeechModelStatus
from edge_agent.supervision import Heartbeats
from protocol.telemetry import HealthReport, HealthSample, NetworkType

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SystemReadings:
    cpu_temp_c: float | None = None
    load1: float | None = None
    mem_used_pct: float | None = None
    disk_free_bytes: int | None = None
    disk_free_pct: float | None = None
    uptime_s: float | None = None
    net_type: NetworkType = NetworkType.UNKNOWN
    signal_dbm: int | None = None


class SystemProbe(Protocol):
    def read(self, data_dir: Path) -> SystemReadings:
        """Read the device's sensors; a reading that fails is None, never an exception."""
        ...


class LinuxProbe:
    """Reads a Raspberry Pi (or any Linux box) through /proc and /sys."""

    def __init__(self, root: Path = Path("/")) -> None:
        self._root = root

    def _text(self, rel: str) -> str | None:
        try:
            return (self._root / rel).read_text(encoding="ascii", errors="replace")
        except OSError:
            return None

    def read(self, data_dir: Path) -> SystemReadings:
        temp = self._text("sys/class/thermal/thermal_zone0/temp")
        uptime = self._text("proc/uptime")
        loadavg = self._text("proc/loadavg")
        free_bytes, free_pct = _disk(data_dir)
        net_type, signal = self._network()
        return SystemReadings(
            cpu_temp_c=_num(temp, 0.001),
            load1=_num(loadavg.split()[0] if loadavg else None),
            mem_used_pct=self._mem_used_pct(),
            disk_free_bytes=free_bytes,
            disk_free_pct=free_pct,
            uptime_s=_num(uptime.split()[0] if uptime else None),
            net_type=net_type,
            signal_dbm=signal,
        )

    def _mem_used_pct(self) -> float | None:
        text = self._text("proc/meminfo")
        if not text:
            return None
        values = {}
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                values[key] = int(parts[0])
        total, available = values.get("MemTotal"), values.get("MemAvailable")
        if not total or available is None:
            return None
        return round(100.0 * (total - available) / total, 1)

    def _network(self) -> tuple[NetworkType, int | None]:
        """The kind of the first interface that is up: modem, Wi-Fi or Ethernet."""
        try:
            names = sorted(p.name for p in (self._root / "sys/class/net").iterdir())
        except OSError:
            return NetworkType.UNKNOWN, None
        up = [n for n in names if n != "lo"
              and (self._text(f"sys/class/net/{n}/operstate") or "").strip() in ("up", "unknown")]
        for prefix, kind in (("wwan", NetworkType.CELLULAR), ("ppp", NetworkType.CELLULAR),
                             ("wl", NetworkType.WIFI), ("eth", NetworkType.ETHERNET),
                             ("en", NetworkType.ETHERNET)):
            match = next((n for n in up if n.startswith(prefix)), None)
            if match is not None:
                return kind, self._wifi_signal(match) if kind is NetworkType.WIFI else None
        return (NetworkType.NONE if not up else NetworkType.UNKNOWN), None

    def _wifi_signal(self, iface: str) -> int | None:
        for line in (self._text("proc/net/wireless") or "").splitlines():
            if line.strip().startswith(f"{iface}:"):
                level = _num(line.split()[3].rstrip("."))
                return int(level) if level is not None and -150 <= level <= 0 else None
        return None


def _num(text: str | None, scale: float = 1.0) -> float | None:
    if text is None:
        return None
    try:
        return round(float(text.strip()) * scale, 3)
    except ValueError:
        return None


def _disk(path: Path) -> tuple[int | None, float | None]:
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None, None
    return usage.free, round(100.0 * usage.free / usage.total, 2) if usage.total else None


class TrackedAmplifier:
    """Wraps the relay so the sampler knows whether the amplifier is on, and the player
    whether the amplifier path works (``fault``: the last switching error, if any)."""

    def __init__(self, inner: Amplifier) -> None:
        self._inner = inner
        self.on = False
        self.fault: str | None = None

    def set_power(self, on: bool) -> None:
        try:
            self._inner.set_power(on)
        except Exception as exc:
            if on:
                self.fault = f"{type(exc).__name__}: {exc}"[:200]
            raise
        if on:
            self.fault = None  # switching on works again
        self.on = on


class TrackedVolume:
    def __init__(self, inner: VolumeControl) -> None:
        self._inner = inner
        self.level = 0

    def set_level(self, level: int) -> None:
        self._inner.set_level(level)
        self.level = max(0, min(100, level))


class CenterClockProbe:
    """Offset of the device clock to the center's ``GET /api/v1/time`` (NTP-style midpoint)."""

    def __init__(self, url: str, clock: Clock, timeout_s: float = 5.0,
                 on_reference: Callable[[float, float], None] | None = None) -> None:
        self._url = url
        self._clock = clock  # the raw device clock: the offset is that clock's error
        self._on_reference = on_reference
        self._http = httpx.Client(timeout=timeout_s)
        self.last_offset_ms: float | None = None
        """The latest successful measurement (center minus device), for the player's trust."""

    def __call__(self) -> float | None:
        try:
            m0, t0 = time.monotonic(), self._clock.now().timestamp()
            resp = self._http.get(self._url)
            t1, m1 = self._clock.now().timestamp(), time.monotonic()
            resp.raise_for_status()
            center_ms = float(resp.json()["epoch_ms"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.info("clock probe against %s failed: %s", self._url, exc)
            return None
        self.last_offset_ms = round(center_ms - (t0 + t1) * 500.0, 1)
        if self._on_reference is not None:
            self._on_reference(center_ms / 1000.0, (m0 + m1) / 2)
        return self.last_offset_ms

    def close(self) -> None:
        self._http.close()


@dataclass(frozen=True, slots=True)
class AgentFacts:
    """What the agent itself knows, read at each sample."""

    amp_on: Callable[[], bool]
    volume: Callable[[], int]
    cache_bytes: Callable[[], int]
    manifest_version: Callable[[], int | None]
    agent_version: str
    heartbeats: Callable[[], dict[str, float]] = dict
    outbox_rows: Callable[[], int | None] = lambda: None
    outbox_dropped: Callable[[], int] = lambda: 0
    dead_letters: Callable[[], int] = lambda: 0
    faults: Callable[[], int] = lambda: 0
    speech_model: Callable[[], SpeechModelStatus | None] = lambda: None


class HealthSampler:
    """A thread that takes a sample every ``interval_s`` and hands reports to ``emit``."""

    def __init__(
        self,
        *,
        device_id: str,
        data_dir: Path,
        config: HealthConfig,
        probe: SystemProbe,
        facts: AgentFacts,
        clock: Clock,
        emit: Callable[[HealthReport], None],
        clock_offset: Callable[[], float | None] | None = None,
        heartbeats: Heartbeats | None = None,
    ) -> None:
        self._heartbeats = heartbeats or Heartbeats()
        self._device_id = device_id
        self._data_dir = data_dir
        self._config = config
        self._probe = probe
        self._facts = facts
        self._clock = clock
        self._emit = emit
        self._clock_offset = clock_offset
        self._last_offset: float | None = None
        self._pending: list[HealthSample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.taken = 0

    def start(self) -> None:
        if self._config.interval_s <= 0:
            return  # sampling disabled
        self._thread = threading.Thread(target=self._run, name=f"health-{self._device_id}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._heartbeats.beat("health")
            try:
                self.sample_now()
            except Exception:  # a broken sensor never stops the sampler
                log.exception("health sample failed on %s", self._device_id)
            next_at += self._config.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def take(self) -> HealthSample:
        """One sample of the system and the agent, stamped with the device clock."""
        readings = self._probe.read(self._data_dir)
        if self._clock_offset is not None:
            measured = self._clock_offset()
            if measured is not None:
                self._last_offset = measured
        facts = self._facts
        speech = facts.speech_model()
        return HealthSample(
            sample_id=uuid.uuid4().hex, at=self._clock.now(),
            cpu_temp_c=readings.cpu_temp_c, load1=readings.load1,
            mem_used_pct=readings.mem_used_pct, disk_free_bytes=readings.disk_free_bytes,
            disk_free_pct=readings.disk_free_pct, uptime_s=readings.uptime_s,
            net_type=readings.net_type, signal_dbm=readings.signal_dbm,
            amp_on=facts.amp_on(), volume=facts.volume(), clock_offset_ms=self._last_offset,
            cache_bytes=facts.cache_bytes(), agent_version=facts.agent_version[:40],
            manifest_version=facts.manifest_version(),
            heartbeats=facts.heartbeats(), outbox_rows=facts.outbox_rows(),
            outbox_dropped=facts.outbox_dropped(), dead_letters=facts.dead_letters(),
            faults=facts.faults(),
            speech_model=speech.label if speech else None,
            speech_model_state=speech.state if speech else None,
        )

    def sample_now(self) -> None:
        """Take a sample; emit a report once ``samples_per_report`` samples are held."""
        self._pending.append(self.take())
        self.taken += 1
        if len(self._pending) >= self._config.samples_per_report:
            report = HealthReport(device_id=self._device_id, samples=tuple(self._pending))
            self._pending = []
            self._emit(report)

