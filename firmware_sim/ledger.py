"""A ledger of every message an agent made: one JSON line per message durably in its outbox.

A fault harness compares it with what the center stored. Each line is flushed as it is
written, so the file survives a ``kill -9`` of the agent process (at worst its last line is
cut short, and :func:`read_ledger` skips such a line):

    {"topic": "tt/v1/dev/loa-1/event", "device_id": "loa-1", "type": "play_started",
     "event_id": "…", "made_at": 1767225600.123}

A health report on ``…/telemetry`` has no event id of its own: its line carries the first
sample's id as ``event_id`` and every sample id in ``sample_ids``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from protocol.errors import TopicError
from protocol.topics import Channel, parse_topic


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One message made at an agent."""

    topic: str
    device_id: str
    channel: str  # "event" or "telemetry"
    type: str
    event_id: str
    made_at: float  # epoch seconds, when it was durably in the outbox
    sample_ids: tuple[str, ...] = ()


def entry_for(topic: str, payload: bytes, made_at: float) -> dict[str, object]:
    """The ledger line (as a dict) for one outbox message."""
    try:
        parsed = parse_topic(topic)
        device_id, channel = parsed.device_id, parsed.channel.value
    except TopicError:
        device_id, channel = "", ""
    try:
        body = json.loads(payload)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    line: dict[str, object] = {"topic": topic, "device_id": device_id, "channel": channel,
                               "type": str(body.get("type", "")), "made_at": made_at}
    if channel == Channel.TELEMETRY.value:
        samples = body.get("samples")
        ids = [str(s.get("sample_id", "")) for s in samples if isinstance(s, dict)] \
            if isinstance(samples, list) else []
        line["event_id"] = ids[0] if ids else ""
        line["sample_ids"] = ids
    else:
        line["event_id"] = str(body.get("event_id", ""))
    return line


class LedgerFile:
    """A callable for ``Agent(ledger=...)`` appending one flushed JSON line per message.

    Thread-safe (every agent thread emits events); several agents may share one file.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._fh: IO[str] | None = path.open("a", encoding="utf-8")

    def __call__(self, topic: str, payload: bytes) -> None:
        line = json.dumps(entry_for(topic, payload, time.time()), separators=(",", ":"))
        with self._lock:
            if self._fh is None:
                return
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def read_ledger(path: Path) -> list[LedgerEntry]:
    """Every complete line of a ledger file (a line cut short by a kill is skipped)."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue  # the last line of a process killed while writing it
        if not isinstance(data, dict):
            continue
        entries.append(LedgerEntry(
            topic=str(data.get("topic", "")), device_id=str(data.get("device_id", "")),
            channel=str(data.get("channel", "")), type=str(data.get("type", "")),
            event_id=str(data.get("event_id", "")), made_at=float(data.get("made_at", 0.0)),
            sample_ids=tuple(str(s) for s in data.get("sample_ids", ())),
        ))
    return entries
