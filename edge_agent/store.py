"""The agent's local SQLite store: last good manifest, media index, outbox, play journal.

One connection guarded by a lock; `synchronous=FULL` so an acknowledged write survives
a power cut (the outbox is the agent's promise that no event is lost).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    item_id TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    command_id TEXT PRIMARY KEY,
    expires REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes


class LocalStore:
    """Thread-safe access to the agent's database file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # manifest -----------------------------------------------------------------
    def load_manifest(self) -> tuple[int, bytes] | None:
        with self._lock:
            row = self._db.execute("SELECT version, body FROM manifest WHERE id = 1").fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def save_manifest(self, version: int, body: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO manifest (id, version, body) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET version = excluded.version, body = excluded.body",
                (version, body),
            )

    # media index --------------------------------------------------------------
    def media_add(self, sha256: str, size: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO media (sha256, size, last_used) VALUES (?, ?, ?)",
                (sha256, size, time.time()),
            )

    def media_touch(self, sha256: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE media SET last_used = ? WHERE sha256 = ?", (time.time(), sha256)
            )

    def media_remove(self, sha256: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM media WHERE sha256 = ?", (sha256,))

    def media_has(self, sha256: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM media WHERE sha256 = ?", (sha256,)).fetchone()
        return row is not None

    def media_by_age(self) -> list[tuple[str, int]]:
        """Cached files, least recently used first."""
        with self._lock:
            rows = self._db.execute("SELECT sha256, size FROM media ORDER BY last_used").fetchall()
        return [(str(r[0]), int(r[1])) for r in rows]

    # outbox -------------------------------------------------------------------
    def outbox_add(self, topic: str, payload: bytes) -> int:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO outbox (topic, payload, created) VALUES (?, ?, ?)",
                (topic, payload, time.time()),
            )
        return int(cur.lastrowid or 0)

    def outbox_pending(self, limit: int, exclude: set[int]) -> list[OutboxRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload FROM outbox ORDER BY id LIMIT ?", (limit + len(exclude),)
            ).fetchall()
        out = [OutboxRow(int(r[0]), str(r[1]), bytes(r[2])) for r in rows if r[0] not in exclude]
        return out[:limit]

    def outbox_delete(self, row_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    def outbox_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    # play journal and command ids ----------------------------------------------
    def journal_add(self, item_id: str, outcome: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO journal (item_id, outcome, at) VALUES (?, ?, ?)",
                (item_id, outcome, time.time()),
            )

    def journal_items(self) -> set[str]:
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT item_id FROM journal")}

    def journal_prune(self, older_than_s: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM journal WHERE at < ?", (time.time() - older_than_s,))

    def command_seen(self, command_id: str, expires: float) -> bool:
        """Record a command id; True if it was already recorded (a replay)."""
        with self._lock:
            self._db.execute("DELETE FROM commands WHERE expires < ?", (time.time() - 3600,))
            cur = self._db.execute(
                "INSERT OR IGNORE INTO commands (command_id, expires) VALUES (?, ?)",
                (command_id, expires),
            )
        return cur.rowcount == 0
