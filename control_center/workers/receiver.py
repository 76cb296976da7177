"""The center's one MQTT message handler: no message is left unacknowledged for a database
error, and none is lost.

Status and events (ordered: a birth after a will, a play's start before its end) go to the
ingestor; health reports (unordered: each sample carries its own instant) to telemetry. A
handler that raises (the ingestor after its short retries on a database error, or anything
unexpected) makes the message a dead letter (``workers.dead_letters``: a table row, or a spool
line while the database is down) and the broker gets its acknowledgement all the same: after
the session's receive maximum of unacknowledged messages the broker would send nothing more.

While dead letters wait, newer status and events queue behind them, so a replay stores them in
arrival order. A background thread replays the queue in batches every ``replay_s`` (at once
after a full batch), deleting each message once stored; the ingest is idempotent by event id,
so a message replayed twice is stored once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from control_center.workers.dead_letters import DeadLetters, Kept, Letter
from protocol.topics import Channel

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], bool]
"""(topic, payload) -> False to leave the message unacknowledged (telemetry back-pressure)."""
ManyHandler = Callable[[list[tuple[str, bytes]]], None]
"""Status and events in arrival order, stored in few transactions (``Ingestor.handle_many``);
raises as ``Handler`` does, having stored all or none of a transaction's messages."""
REPLAY_BATCH = 200
_TELEMETRY_SUFFIX = "/" + Channel.TELEMETRY.value


class Receiver:
    """Dispatches, keeps what fails, replays it; ``count`` receives each outcome's name."""

    def __init__(self, *, ingest: Handler, telemetry: Handler, letters: DeadLetters,
                 count: Callable[[str], None], replay_s: float,
                 ingest_many: ManyHandler | None = None) -> None:
        self._ingest = ingest
        self._ingest_many = ingest_many
        self._telemetry = telemetry
        self.letters = letters
        self._count = count
        self._replay_s = replay_s
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.letters.load()
        self._thread = threading.Thread(target=self._run, name="ingest-replay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the MQTT ingest thread ------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> bool:
        """The bridge's message handler; False only when nothing could keep the message."""
        with self._lock:
            ordered = not topic.endswith(_TELEMETRY_SUFFIX)
            if ordered and self.letters.backlog:
                return self._keep(topic, payload, "queued behind earlier dead letters",
                                  failed=False)
            try:
                return (self._ingest if ordered else self._telemetry)(topic, payload)
            except OperationalError as exc:
                self._count("error:database")
                log.error("ingest: database unavailable for %s: %s", topic[:120], _short(exc))
                return self._keep(topic, payload, _short(exc), failed=True)
            except Exception as exc:
                self._count("error:handler")
                log.exception("ingest: handler failed on %s (%d bytes)", topic[:120],
                              len(payload))
                return self._keep(topic, payload, f"{type(exc).__name__}: {exc}", failed=True)

    def handle_many(self, messages: list[tuple[str, bytes]]) -> list[bool]:
        """The bridge's batch handler: :meth:`handle`'s answer for each message, in order.
        Runs of status and events go to ``ingest_many`` at once; when it fails, each message
        of the run goes through :meth:`handle` (stored once by event id, or kept)."""
        answers: list[bool] = []
        run: list[tuple[str, bytes]] = []
        with self._lock:
            for topic, payload in messages:
                ordered = not topic.endswith(_TELEMETRY_SUFFIX)
                if ordered and self._ingest_many is not None and not self.letters.backlog:
                    run.append((topic, payload))
                    continue
                answers += self._ingest_run(run)
                answers.append(self.handle(topic, payload))
            answers += self._ingest_run(run)
        return answers

    def _ingest_run(self, run: list[tuple[str, bytes]]) -> list[bool]:
        if not run:
            return []
        messages = run[:]
        run.clear()
        assert self._ingest_many is not None
        try:
            self._ingest_many(messages)
            return [True] * len(messages)
        except Exception as exc:
            log.warning("ingest: a batch of %d message(s) failed (%s); one by one",
                        len(messages), _short(exc))
            return [self.handle(topic, payload) for topic, payload in messages]

    def _keep(self, topic: str, payload: bytes, error: str, *, failed: bool) -> bool:
        try:
            kept = self.letters.keep(topic, payload, error=error, failed=failed)
        except OSError as exc:
            self._count("error:unkept")
            log.error("ingest: neither the database nor the spool %s can keep %s (%s); leaving "
                      "it unacknowledged for the broker to keep", self.letters.spool_path,
                      topic[:120], exc)
            return False
        self._count(kept.value if failed or kept == Kept.SPOOL else "queued")
        return True

    # -- replay ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._replay_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                while self.replay() >= REPLAY_BATCH and not self._stop.is_set():
                    pass
            except Exception:
                log.exception("ingest: dead-letter replay failed; retrying in %.0f s",
                              self._replay_s)

    def replay(self, limit: int = REPLAY_BATCH) -> int:
        """Replay up to ``limit`` waiting messages, oldest first; return how many went
        through (stored, or refused for good). Stops at the first database error."""
        if not self.letters.backlog or not self.letters.writable():
            return 0  # probed outside the lock: the ingest thread goes on meanwhile
        with self._lock:
            try:
                self.letters.unspool()
                letters = self.letters.due(limit)
            except SQLAlchemyError as exc:
                log.info("ingest: dead letters wait, the database is still unavailable: %s",
                         _short(exc))
                return 0
        done = 0
        for letter in letters:
            with self._lock:
                if not self._replay_one(letter):
                    break
            done += 1
        if done:
            log.info("ingest: %d dead letter(s) replayed, %d waiting", done,
                     self.letters.backlog)
        return done

    def _replay_one(self, letter: Letter) -> bool:
        """False: stop this round (the database failed, or telemetry pushes back)."""
        ordered = not letter.topic.endswith(_TELEMETRY_SUFFIX)
        try:
            ok = (self._ingest if ordered else self._telemetry)(letter.topic, letter.payload)
        except OperationalError:
            return False
        except Exception as exc:
            try:
                self.letters.failed(letter, f"{type(exc).__name__}: {exc}")
            except SQLAlchemyError:
                return False
            self._count("replay_failed")
            log.warning("ingest: replay of dead letter %d (%s) failed: %s", letter.id,
                        letter.topic[:120], exc)
            return True
        if not ok:
            return False
        try:
            self.letters.done(letter)
        except SQLAlchemyError:
            return False  # stored, but still listed: the next replay finds it a duplicate
        self._count("replayed")
        return True


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
