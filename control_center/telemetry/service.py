"""What the MQTT bridge calls for telemetry: decode, tag, queue for InfluxDB, feed the monitor."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from control_center.config import Settings
from control_center.models import Device
from control_center.telemetry.lineproto import health_line, play_line, series_tags
from control_center.telemetry.monitor import Monitor, MonitorOptions
from control_center.telemetry.queries import InfluxReader
from control_center.telemetry.writer import InfluxWriter, WriterOptions
from protocol import codec
from protocol.errors import MalformedMessage, TopicError, UnsupportedVersion
from protocol.events import PlayCompleted, PlayFailed, PlayInterrupted, PlayStarted
from protocol.topics import parse_topic

log = logging.getLogger(__name__)
_TAG_TTL_S = 300.0  # a device moved to another unit is tagged with the new one within this


class Telemetry:
    def __init__(self, *, settings: Settings, sessions: sessionmaker[Session],
                 clock: Callable[[], datetime],
                 lookup_sessions: sessionmaker[Session] | None = None,
                 on_manifest_behind: Callable[[str], object] | None = None,
                 leading: Callable[[], bool] = lambda: True) -> None:
        """``lookup_sessions``: for the device lookups made on the MQTT ingest thread (the
        runtime passes the ingest's, whose SQLite lock wait is short); default ``sessions``.
        ``on_manifest_behind``, ``leading``: see ``Monitor``."""
        self._sessions = lookup_sessions or sessions
        self._clock = clock
        self.monitor = Monitor(sessions=sessions, clock=clock, options=MonitorOptions(
            interval_s=settings.monitor_interval_s, silence_s=settings.silence_s,
            offline_alert_s=settings.offline_alert_s, disk_free_pct=settings.alert_disk_free_pct,
            temp_c=settings.alert_temp_c, clock_offset_ms=settings.alert_clock_offset_ms,
            player_stalled_s=settings.alert_player_stalled_s,
            republish_settle_s=settings.republish_settle_s,
            play_failures=settings.alert_play_failures,
            play_failure_window_s=settings.alert_play_failure_window_s,
            webhook_url=settings.alert_webhook_url), on_manifest_behind=on_manifest_behind,
            leading=leading)
        self.writer: InfluxWriter | None = None
        self.reader: InfluxReader | None = None
        if settings.influx_url:
            self.reader = InfluxReader(settings.influx_url, settings.influx_db)
            self.writer = InfluxWriter(WriterOptions(
                url=settings.influx_url, database=settings.influx_db,
                spill_dir=settings.data_dir / "telemetry-spill",
                batch_size=settings.influx_batch_size,
                queue_max_lines=settings.influx_queue_lines,
                spill_max_bytes=settings.influx_spill_max_bytes))
        self._tags: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.counters: Counter[str] = Counter()

    def start(self) -> None:
        if self.writer is not None:
            self.writer.start()
        self.monitor.start()

    def stop(self) -> None:
        self.monitor.stop()
        if self.writer is not None:
            self.writer.stop()
        if self.reader is not None:
            self.reader.close()

    def stats(self) -> dict[str, object]:
        with self._lock:
            counters = dict(self.counters)
        return {"enabled": self.writer is not None, "messages": counters,
                "influx": self.writer.stats() if self.writer else None,
                "monitor": {"ticks": self.monitor.ticks, **dict(self.monitor.counters)}}

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def _tags_for(self, device_id: str) -> str | None:
        held = self._tags.get(device_id)
        if held is not None and time.monotonic() - held[1] < _TAG_TTL_S:
            return held[0]
        with self._sessions() as session:
            row = session.execute(select(Device.unit_id, Device.kind)
                                  .where(Device.id == device_id)).first()
        if row is None:
            return None
        tags = series_tags(device_id, row.kind.value, row.unit_id)
        self._tags[device_id] = (tags, time.monotonic())
        return tags

    def handle_report(self, topic: str, payload: bytes) -> bool:
        """A health report from ``tt/v1/dev/{id}/telemetry``; False leaves it unacknowledged."""
        try:
            device_id = parse_topic(topic).device_id
            report = codec.decode_telemetry(payload)
        except (TopicError, MalformedMessage, UnsupportedVersion) as exc:
            reason = {TopicError: "bad_topic", MalformedMessage: "malformed",
                      UnsupportedVersion: "unsupported_version"}[type(exc)]
            self._refuse(reason, topic, str(exc))
            return True
        if report.device_id != device_id:
            self._refuse("device_mismatch", topic, f"payload names {report.device_id[:64]!r}")
            return True
        tags = self._tags_for(device_id)
        if tags is None:
            self._refuse("unknown_device", topic, "device is not registered")
            return True
        newest = max(report.samples, key=lambda s: s.at)
        self.monitor.sample(device_id, newest, self._clock())
        self._count("reports")
        self._count("samples", len(report.samples))
        if self.writer is None:
            return True
        return self.writer.offer([health_line(s, tags) for s in report.samples])

    def observe_event(self, topic: str, payload: bytes) -> None:
        """An event the ingestor stored: the device was heard; a play also becomes a point."""
        try:
            device_id = parse_topic(topic).device_id
            event = codec.decode_event(payload)
        except (TopicError, MalformedMessage, UnsupportedVersion):
            return  # the ingestor already counted the refusal
        self.monitor.heard(device_id, self._clock())
        if self.writer is None or event.device_id != device_id:
            return
        if isinstance(event, PlayStarted | PlayCompleted | PlayInterrupted | PlayFailed):
            tags = self._tags_for(device_id)
            if tags is not None:
                self.writer.offer([play_line(event, tags)])

    def _refuse(self, reason: str, topic: str, detail: str) -> None:
        self._count(f"refused:{reason}")
        log.warning("telemetry: refused %s (%s): %s", topic[:120], reason, detail[:300])
