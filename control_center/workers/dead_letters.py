"""Messages the center acknowledged to the broker but could not store yet.

A message whose handling failed is kept in ``ingest_dead_letters``; when the database cannot
take even that, it is appended to a JSON-lines spool file in the center's data directory
(fsynced before the broker gets its acknowledgement). Both are one queue in arrival order:
while the spool holds anything, newer messages go behind it there, and ``unspool`` moves the
spool into the table (after every row already there) once the database works again.

Not thread-safe: ``workers.receiver.Receiver`` serialises every call.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from control_center.models import IngestDeadLetter

log = logging.getLogger(__name__)

SPOOL_NAME = "ingest-spool.jsonl"
GIVE_UP_AFTER = 6
"""Failed handlings of one message after which it is held (kept, no longer replayed)."""
_ERROR_CHARS = 2000


class Kept(StrEnum):
    TABLE = "dead_letter"  # a row of ingest_dead_letters
    SPOOL = "spooled"  # a line of the spool file (the database is unavailable)


@dataclass(frozen=True, slots=True)
class Letter:
    id: int
    topic: str
    payload: bytes
    attempts: int


class DeadLetters:
    """The queue of messages waiting to be stored: ``backlog`` of them (``held`` set aside)."""

    def __init__(self, *, sessions: sessionmaker[Session], spool_path: Path,
                 clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self.spool_path = spool_path
        self._clock = clock
        self._spooled = 0
        self.backlog = 0
        """Messages waiting for a replay: rows not held, plus spooled lines."""
        self.held = 0
        """Rows that failed ``GIVE_UP_AFTER`` times: kept for a person, not replayed."""

    def load(self) -> None:
        """Count what a previous run left (the database must work: called at start)."""
        self._end_torn_line()
        self._spooled = len(self._spool_lines())
        with self._sessions() as session:
            waiting = session.scalar(select(func.count()).select_from(IngestDeadLetter)
                                     .where(IngestDeadLetter.attempts < GIVE_UP_AFTER)) or 0
            self.held = session.scalar(select(func.count()).select_from(IngestDeadLetter)
                                       .where(IngestDeadLetter.attempts >= GIVE_UP_AFTER)) or 0
        self.backlog = waiting + self._spooled
        if self.backlog or self.held:
            log.warning("dead letters: %d waiting to be replayed, %d held", self.backlog,
                        self.held)

    def keep(self, topic: str, payload: bytes, *, error: str, failed: bool) -> Kept:
        """Queue one message (``failed``: its handling failed, else it waits behind others).

        Raises OSError only when neither the database nor the spool file could take it.
        """
        if not self._spooled:
            try:
                now = self._clock()
                with self._sessions.begin() as session:
                    session.add(IngestDeadLetter(
                        topic=topic[:300], payload=payload, error=error[:_ERROR_CHARS],
                        first_failed_at=now, last_failed_at=now, attempts=int(failed)))
                self.backlog += 1
                return Kept.TABLE
            except SQLAlchemyError as exc:
                log.error("dead letters: the database cannot take %s either (%s); spooling it "
                          "to %s", topic[:120], _short(exc), self.spool_path)
        self._append(topic, payload, error, failed)
        self._spooled += 1
        self.backlog += 1
        return Kept.SPOOL

    def writable(self) -> bool:
        """Whether the database takes a write now (on SQLite: BEGIN IMMEDIATE gets the lock)."""
        try:
            with self._sessions.begin() as session:
                session.connection()
        except SQLAlchemyError as exc:
            log.info("dead letters wait, the database is still unavailable: %s", _short(exc))
            return False
        return True

    def unspool(self) -> int:
        """Move the spool into the table, oldest first, then empty it (raises SQLAlchemyError
        while the database is unavailable; the spool is then left as it is)."""
        if not self._spooled:
            return 0
        lines = self._spool_lines()
        now = self._clock()
        moved = 0
        with self._sessions.begin() as session:
            for number, line in enumerate(lines, 1):
                try:
                    record = json.loads(line)
                    payload = base64.b64decode(record["payload"], validate=True)
                    topic, error = str(record["topic"]), str(record.get("error", ""))
                    attempts = int(record.get("attempts", 1))
                except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                    log.error("dead letters: spool line %d is unreadable (%s); dropped", number,
                              exc)
                    continue
                session.add(IngestDeadLetter(topic=topic[:300], payload=payload,
                                             error=error[:_ERROR_CHARS], first_failed_at=now,
                                             last_failed_at=now, attempts=attempts))
                moved += 1
        self.spool_path.unlink(missing_ok=True)  # after the commit: at worst replayed twice
        self.backlog -= self._spooled - moved
        self._spooled = 0
        log.info("dead letters: %d spooled message(s) moved into the database", moved)
        return moved

    def due(self, limit: int) -> list[Letter]:
        """The oldest messages to replay (not held), in arrival order."""
        with self._sessions() as session:
            rows = session.execute(
                select(IngestDeadLetter.id, IngestDeadLetter.topic, IngestDeadLetter.payload,
                       IngestDeadLetter.attempts)
                .where(IngestDeadLetter.attempts < GIVE_UP_AFTER)
                .order_by(IngestDeadLetter.id).limit(limit)).all()
        return [Letter(i, t, bytes(p), a) for i, t, p, a in rows]

    def done(self, letter: Letter) -> None:
        """The message is stored: forget it."""
        with self._sessions.begin() as session:
            session.execute(delete(IngestDeadLetter).where(IngestDeadLetter.id == letter.id))
        self.backlog -= 1

    def failed(self, letter: Letter, error: str) -> None:
        """A replay of the message failed (not for the database): count it, hold it at last."""
        attempts = letter.attempts + 1
        with self._sessions.begin() as session:
            row = session.get(IngestDeadLetter, letter.id)
            if row is None:
                return
            row.attempts, row.error, row.last_failed_at = attempts, error[:_ERROR_CHARS], \
                self._clock()
        if attempts >= GIVE_UP_AFTER:
            self.backlog -= 1
            self.held += 1
            log.error("dead letters: %s failed %d times; held in ingest_dead_letters (id %d): "
                      "%s", letter.topic[:120], attempts, letter.id, error[:300])

    def _append(self, topic: str, payload: bytes, error: str, failed: bool) -> None:
        line = json.dumps({"topic": topic, "payload": base64.b64encode(payload).decode(),
                           "error": error[:_ERROR_CHARS], "attempts": int(failed),
                           "at": self._clock().isoformat()}, ensure_ascii=False)
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spool_path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _end_torn_line(self) -> None:
        """A crash mid-append leaves a line without its newline: end it, so the next line
        is not glued to it (the torn one is then dropped alone by ``unspool``)."""
        try:
            with self.spool_path.open("rb+") as fh:
                size = fh.seek(0, os.SEEK_END)
                if size:
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        fh.write(b"\n")
        except FileNotFoundError:
            return

    def _spool_lines(self) -> list[str]:
        try:
            text = self.spool_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if line.strip()]


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
