"""The links to other centers (an elected role of the center, ``federation-link``).

Every ``interval_s`` it sends each active peer its due outbox messages, oldest first, in
batches, over HTTPS (``POST {peer}/api/v1/federation/messages``), and marks each message by the
receipt the peer gave: applied, duplicate or refused end it (a refused bulletin's row becomes
``failed``, with the peer's reason); retry, an error answer or no answer try it again after a
backoff (0.5 s doubling up to 30 s). Every ``states_s`` it also reports
the plays of the bulletins the parent sent (``content_down.refresh_plays``), and every
``figures_s`` the day figures of its tree when they changed (``figures_up.FiguresReporter``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from control_center.federation import content_down, sending
from control_center.federation.identity import Identity
from control_center.federation.messages import MAX_BATCH, Kind
from control_center.models import FederationOutbox, FederationPeer, PeerState

log = logging.getLogger(__name__)

PATH = "/api/v1/federation/messages"
BACKOFF_MAX_S = 30.0
ENDED = ("applied", "duplicate", "refused")


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_MAX_S, 0.5 * 2 ** max(0, attempts - 1)))


class FederationLink:
    def __init__(self, *, sessions: sessionmaker[Session], identity: Identity,
                 clock: Callable[[], datetime], interval_s: float = 1.0,
                 states_s: float = 30.0, timeout_s: float = 15.0,
                 figures: Callable[[Session, datetime], int] | None = None,
                 figures_s: float = 900.0) -> None:
        self._sessions = sessions
        self._identity = identity
        self._clock = clock
        self._interval_s = interval_s
        self._states_s = states_s
        self._timeout_s = timeout_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_states: datetime | None = None
        self._figures = figures
        self._figures_s = figures_s
        self._last_figures: datetime | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="federation-link", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout_s + 5)

    def wake(self) -> None:
        """Send now (a message was queued)."""
        self._wake.set()

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout_s) as client:
            while not self._stop.is_set():
                try:
                    self.tick(client)
                except Exception:  # the next tick tries again
                    log.exception("federation link tick failed")
                self._wake.wait(self._interval_s)
                self._wake.clear()

    def tick(self, client: httpx.Client) -> int:
        """One pass; returns the messages that ended (delivered or refused)."""
        now = self._clock()
        if self._last_states is None or now - self._last_states >= timedelta(
                seconds=self._states_s):
            self._last_states = now
            with self._sessions() as session:
                content_down.refresh_plays(session, identity=self._identity, now=now)
        if self._figures is not None and (self._last_figures is None or now - self._last_figures
                                          >= timedelta(seconds=self._figures_s)):
            self._last_figures = now
            try:
                with self._sessions() as session:
                    self._figures(session, now)
            except Exception:  # the messages already queued are still sent
                log.exception("federation figures failed; again in %.0f s", self._figures_s)
        with self._sessions() as session:
            peers = list(session.scalars(select(FederationPeer).where(
                FederationPeer.state == PeerState.ACTIVE)))
            session.expunge_all()
        return sum(self._send(client, peer, now) for peer in peers)

    def _send(self, client: httpx.Client, peer: FederationPeer, now: datetime) -> int:
        with self._sessions() as session:
            rows = list(session.scalars(select(FederationOutbox).where(
                FederationOutbox.peer_id == peer.id, FederationOutbox.delivered_at.is_(None))
                .order_by(FederationOutbox.id).limit(MAX_BATCH)))
            if not rows or rows[0].next_try_at > now:  # in order: the oldest decides
                return 0
            batch = [(r.id, r.message_id, r.envelope) for r in rows]
            kinds = {r.message_id: r.kind for r in rows}
        error: str | None = None
        receipts: dict[str, dict[str, str]] = {}
        try:
            answer = client.post(peer.url + PATH, json={"messages": [e for _, _, e in batch]})
            if answer.status_code == 200:
                receipts = {r["id"]: r for r in answer.json()["receipts"]}
            else:
                error = f"HTTP {answer.status_code}: {answer.text[:300]}"
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        ended = 0
        with self._sessions() as session:
            stored = session.get(FederationPeer, peer.id)
            for row_id, message_id, _ in batch:
                row = session.get(FederationOutbox, row_id)
                if row is None:
                    continue
                receipt = receipts.get(message_id)
                if receipt is not None and receipt.get("outcome") in ENDED:
                    row.delivered_at, row.outcome = now, receipt["outcome"]
                    row.last_error = receipt.get("reason") or None
                    ended += 1
                    if row.outcome == "refused" and kinds[message_id] == Kind.BULLETIN.value:
                        sending.refused(session, message_id=message_id,
                                        reason=row.last_error or "refused", now=now)
                else:
                    row.attempts += 1
                    row.next_try_at = now + backoff(row.attempts)
                    row.last_error = error or (receipt or {}).get("reason") or "retry"
            if stored is not None:
                stored.last_error = error
                if ended:
                    stored.last_sent_at = now
            session.commit()
        if error:
            log.warning("federation link to %s: %s (%d message(s) wait)", peer.center_id,
                        error, len(batch))
        return ended
