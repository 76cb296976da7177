"""Simulated Pi hardware: an audio sink that records real start instants, relay, volume."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_agent.hardware import Hardware, PlayResult
from firmware_sim.live_sink import SimPcmSink
from protocol.manifest import AudioContent, PlayItem


@dataclass(frozen=True, slots=True)
class PlayRecord:
    """One play as heard at the simulated loudspeaker."""

    device_id: str
    item_id: str
    bulletin_id: int
    priority: str
    scheduled_at: float  # epoch seconds
    started_at: float
    ended_at: float
    completed: bool
    file_sha256: str  # hash of the bytes actually opened for playing
    expected_sha256: str


class SimAudioSink:
    """Plays by waiting for the item's duration; records when each play really started.

    `time_scale` shortens plays in tests (0.1 = ten times faster). Records go to memory
    (with a condition to wait on) and, when `log_path` is set, to a JSON-lines file so a
    test can read plays of an agent running in another process.
    """

    def __init__(self, device_id: str, log_path: Path | None = None, time_scale: float = 1.0):
        self.device_id = device_id
        self.log_path = log_path
        self.time_scale = time_scale
        self.records: list[PlayRecord] = []
        self.changed = threading.Condition()
        self.clock: Callable[[], float] = time.time
        """Epoch seconds by which plays are stamped: the agent's clock (``Agent.clock``) once
        the agent exists, so a device whose own clock is wrong still records center time."""

    def play(
        self,
        path: Path,
        *,
        item: PlayItem,
        cancel: threading.Event,
        on_started: Callable[[datetime], None],
    ) -> PlayResult:
        with path.open("rb") as fh:  # the file is opened as a real player would
            started, began = self.clock(), time.monotonic()
            on_started(datetime.fromtimestamp(started, UTC))
            duration = 0.0
            if isinstance(item.content, AudioContent):
                duration = item.content.duration_ms / 1000 * self.time_scale
            completed = not cancel.wait(max(0.0, duration - (time.monotonic() - began)))
            ended = self.clock()
            data = fh.read()  # what was "played", hashed after the fact (off the instant)
        expected = item.content.sha256 if isinstance(item.content, AudioContent) else ""
        record = PlayRecord(
            self.device_id, item.item_id, item.bulletin_id, item.priority.value,
            item.start_at.timestamp(), started, ended, completed,
            hashlib.sha256(data).hexdigest(), expected,
        )
        self._record(record)
        return PlayResult(
            datetime.fromtimestamp(started, UTC), datetime.fromtimestamp(ended, UTC), completed
        )

    def _record(self, record: PlayRecord) -> None:
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(record)) + "\n")
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[list[PlayRecord]], bool], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.records), timeout)


def read_play_log(path: Path) -> list[PlayRecord]:
    """Plays recorded by a sink in another process."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [PlayRecord(**json.loads(line)) for line in lines if line.strip()]


class SimAmplifier:
    def __init__(self) -> None:
        self.on = False
        self.switches = 0

    def set_power(self, on: bool) -> None:
        if on != self.on:
            self.switches += 1
        self.on = on


class SimVolume:
    def __init__(self) -> None:
        self.level = 0

    def set_level(self, level: int) -> None:
        self.level = max(0, min(100, level))


def sim_hardware(
    device_id: str, log_path: Path | None = None, time_scale: float = 1.0
) -> tuple[Hardware, SimAudioSink]:
    """A full set of simulated hardware for one device."""
    sink = SimAudioSink(device_id, log_path, time_scale)
    live = SimPcmSink(device_id, log_path.with_suffix(".live") if log_path else None)
    return Hardware(sink=sink, amplifier=SimAmplifier(), volume=SimVolume(), live=live), sink
