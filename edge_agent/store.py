"""The agent's local SQLite store: last good manifest, media index, outbox, play journal.

One connection guarded by a lock; `synchronous=FULL` so an acknowledged write survives
a power cut (the outbox is the agent's promise that no event is lost). A store SQLite finds
corrupt when it opens is moved aside and a fresh one created (``LocalStore.recovered``):
the manifest comes back from the broker's retained copy, the media from the cache directory.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

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
    created REAL NOT NULL,
    rank INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS play_now (
    item_id TEXT PRIMARY KEY,
    command_id TEXT NOT NULL,
    body BLOB NOT NULL
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


CORRUPT_ERRORS = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


class StoreCorrupt(sqlite3.DatabaseError):
    """SQLite says the file is not a sound database."""


def _open(path: Path) -> tuple[sqlite3.Connection, bool]:
    """The connection, and whether the store was created now (no play journal before)."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        check = db.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise StoreCorrupt(f"integrity check failed: {check[0] if check else 'no answer'}")
        fresh = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'journal'").fetchone() is None
        db.executescript(SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
        if "rank" not in columns:  # a store written by an agent before 0.2
            db.execute("ALTER TABLE outbox ADD COLUMN rank INTEGER NOT NULL DEFAULT 1")
    except sqlite3.DatabaseError as exc:
        db.close()
        corrupt = isinstance(exc, StoreCorrupt) or (
            getattr(exc, "sqlite_errorname", "") in CORRUPT_ERRORS)
        if corrupt and not isinstance(exc, StoreCorrupt):
            raise StoreCorrupt(str(exc)) from exc
        raise
    return db, fresh


def _move_aside(path: Path) -> Path:
    """Rename the store and its WAL files to ``<name>.corrupt`` (replacing an older one)."""
    target = path.with_name(path.name + ".corrupt")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        moved = target.with_name(target.name + suffix)
        moved.unlink(missing_ok=True)
        if source.exists():
            os.replace(source, moved)
    return target


class LocalStore:
    """Thread-safe access to the agent's database file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.recovered: str | None = None
        """Why the store was found corrupt and replaced at start-up (None if it was sound)."""
        try:
            self._db, fresh = _open(path)
        except StoreCorrupt as exc:
            moved = _move_aside(path)
            self.recovered = f"{exc}; moved aside to {moved.name}"
            log.error("agent store %s is corrupt (%s): moved aside, starting a fresh one",
                      path, exc)
            self._db, fresh = _open(path)
        self.created_at: float | None = time.time() if fresh else None
        """When a store without a play journal was created (first start, wiped or replaced
        store): what was due before cannot be known to have played or not."""

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

    def media_all(self) -> set[str]:
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT sha256 FROM media")}

    # outbox -------------------------------------------------------------------
    def outbox_add(self, topic: str, payload: bytes, rank: int = 1) -> int:
        """Append a message; ``rank`` orders what a full outbox drops first (lowest)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO outbox (topic, payload, created, rank) VALUES (?, ?, ?, ?)",
                (topic, payload, time.time(), rank),
            )
        return int(cur.lastrowid or 0)

    def outbox_trim(self, keep: int, *, spare: set[int]) -> int:
        """Delete rows beyond ``keep``: the lowest rank first, oldest first within a rank,
        never a row in ``spare`` (in flight). Returns how many were deleted."""
        with self._lock:
            total = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
            excess = total - keep
            if excess <= 0:
                return 0
            ids = [int(r[0]) for r in self._db.execute(
                "SELECT id FROM outbox ORDER BY rank, id LIMIT ?", (excess + len(spare),))
                if int(r[0]) not in spare][:excess]
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
        return len(ids)

    def outbox_dead_letter(self, row_id: int, reason: str) -> None:
        """Move a row the broker refused out of the outbox, keeping it for inspection."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO dead_letters (topic, payload, reason, at) "
                    "SELECT topic, payload, ?, ? FROM outbox WHERE id = ?",
                    (reason[:500], time.time(), row_id))
                self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def dead_letter_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def dead_letters_prune(self, older_than_s: float) -> int:
        with self._lock:
            cur = self._db.execute("DELETE FROM dead_letters WHERE at < ?",
                                   (time.time() - older_than_s,))
        return cur.rowcount

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

    def journal_prune(self, older_than_s: float) -> int:
        with self._lock:
            cur = self._db.execute("DELETE FROM journal WHERE at < ?",
                                   (time.time() - older_than_s,))
        return cur.rowcount

    # play-now commands accepted and not yet played (they survive a restart) ------------
    def play_now_add(self, item_id: str, command_id: str, body: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO play_now (item_id, command_id, body) VALUES (?, ?, ?)",
                (item_id, command_id, body))

    def play_now_remove(self, item_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM play_now WHERE item_id = ?", (item_id,))

    def play_now_all(self) -> list[tuple[str, bytes]]:
        """(item id, signed command) of every play-now command still to be played."""
        with self._lock:
            rows = self._db.execute("SELECT item_id, body FROM play_now").fetchall()
        return [(str(r[0]), bytes(r[1])) for r in rows]

    def command_seen(self, command_id: str, expires: float) -> bool:
        """Record a command id; True if it was already recorded (a replay)."""
        with self._lock:
            self._db.execute("DELETE FROM commands WHERE expires < ?", (time.time() - 3600,))
            cur = self._db.execute(
                "INSERT OR IGNORE INTO commands (command_id, expires) VALUES (?, ?)",
                (command_id, expires),
            )
        return cur.rowcount == 0
