"""Taking submissions: a reference code at once, the event through the agent's outbox.

The outbox row (SQLite, ``synchronous=FULL``) is the store-and-forward copy: it is written
before the citizen sees the code and deleted only when the broker acknowledged it. A local
index (``kiosk.sqlite3``) keeps what the citizen may look up later on this kiosk.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
import uuid
import wave
from dataclasses import dataclass
from pathlib import Path

from edge_agent.clock import Clock
from edge_agent.errors import AgentError
from edge_agent.outbox import Outbox
from protocol.feedback import FeedbackChannel, FeedbackSubmitted
from protocol.topics import Channel, device_topic

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: easy to read out and type

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    ref_code TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    category TEXT NOT NULL,
    text TEXT NOT NULL,
    channel TEXT NOT NULL,
    created REAL NOT NULL,
    recording TEXT
);
"""


class RateLimited(AgentError):
    """Too many submissions from this kiosk in the last hour."""


@dataclass(frozen=True, slots=True)
class Submission:
    ref_code: str
    category: str
    text: str
    channel: str
    created: float
    recording: str | None


class FeedbackDesk:
    def __init__(self, *, device_id: str, data_dir: Path, outbox: Outbox, clock: Clock,
                 max_per_hour: int) -> None:
        self._device_id = device_id
        self._outbox = outbox
        self._clock = clock
        self._max_per_hour = max_per_hour
        self._topic = device_topic(device_id, Channel.EVENT)
        self._recordings = data_dir / "recordings"
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(data_dir / "kiosk.sqlite3", check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(ALPHABET) for _ in range(6))
            if self.find(code) is None:
                return code

    def submit(self, *, category: str, text: str, channel: FeedbackChannel,
               phone: str | None, contact_consent: bool, lang: str = "vi",
               audio: bytes | None = None, audio_consent: bool = False,
               sample_rate: int = 16_000) -> str:
        """Queue one submission; return its reference code (works offline)."""
        with self._lock:
            hour_ago = time.time() - 3600
            recent = self._db.execute("SELECT COUNT(*) FROM submissions WHERE created >= ?",
                                      (hour_ago,)).fetchone()[0]
        if recent >= self._max_per_hour:
            raise RateLimited(f"{recent} submissions in the last hour on this kiosk")
        code = self._new_code()
        keep = audio is not None and audio_consent
        event = FeedbackSubmitted(
            event_id=uuid.uuid4().hex, device_id=self._device_id, at=self._clock.now(),
            ref_code=code, category=category, text=text.strip()[:4000], lang=lang,
            channel=channel, phone=(phone or None) if contact_consent else None,
            contact_consent=contact_consent and bool(phone), audio_kept=keep,
        )
        self._outbox.add(self._topic, event)  # durable before the code is shown
        recording = None
        if keep and audio is not None:
            recording = str(self._save_wav(code, audio, sample_rate))
        with self._lock:
            self._db.execute(
                "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (code, event.event_id, category, event.text, channel.value, time.time(),
                 recording),
            )
        return code

    def _save_wav(self, code: str, pcm: bytes, sample_rate: int) -> Path:
        self._recordings.mkdir(parents=True, exist_ok=True)
        path = self._recordings / f"{code}.wav"
        with wave.open(str(path), "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(sample_rate)
            wf.writeframes(pcm)
        return path

    def prune_recordings(self, older_than_s: float) -> int:
        """Delete voice recordings kept longer than ``older_than_s`` (the consent was for a
        limited time); the submission itself stays. Returns how many files were deleted."""
        cutoff = time.time() - older_than_s
        with self._lock:
            rows = self._db.execute(
                "SELECT ref_code, recording FROM submissions "
                "WHERE recording IS NOT NULL AND created < ?", (cutoff,)).fetchall()
        deleted = 0
        for code, recording in rows:
            path = Path(recording)
            if path.exists():
                path.unlink()
                deleted += 1
            with self._lock:
                self._db.execute("UPDATE submissions SET recording = NULL WHERE ref_code = ?",
                                 (code,))
        if self._recordings.is_dir():  # files no row points to (a crash between two writes)
            for path in self._recordings.glob("*.wav"):
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    deleted += 1
        return deleted

    def find(self, ref_code: str) -> Submission | None:
        with self._lock:
            row = self._db.execute(
                "SELECT ref_code, category, text, channel, created, recording FROM submissions "
                "WHERE ref_code = ?", (ref_code.strip().upper(),)).fetchone()
        if row is None:
            return None
        return Submission(str(row[0]), str(row[1]), str(row[2]), str(row[3]), float(row[4]),
                          None if row[5] is None else str(row[5]))
