"""Receipts of messages between centers, on a real database: a message is applied once; one
whose handler failed after a commit of its own is applied again on the resend, not lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from control_center.db import create_db_engine, session_factory, upgrade_database
from control_center.errors import BrokerUnavailable, InvalidInput
from control_center.federation.inbox import apply_batch
from control_center.federation.messages import FederationMessage, Kind, new_message
from control_center.models import FederationPeer, FederationReceived, PeerRole, PeerState

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'center.db'}")
    upgrade_database(engine)
    factory = session_factory(engine)
    with factory() as session:
        session.add(FederationPeer(center_id="central", name="Trung ương",
                                   url="https://central.example", public_key="x" * 44,
                                   role=PeerRole.PARENT, state=PeerState.ACTIVE,
                                   created_by="test", created_at=NOW))
        session.commit()
    yield factory
    engine.dispose()


def _message() -> FederationMessage:
    return new_message(sender="central", to="tinh-x", kind=Kind.HELLO, at=NOW, payload={})


def _receipts(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions() as session:
        return [(r.message_id, r.outcome) for r in session.scalars(select(FederationReceived))]


def test_a_failure_after_a_partial_commit_is_retried_not_lost(
        sessions: sessionmaker[Session]) -> None:
    first, second = _message(), _message()
    effects: list[str] = []

    def commits_then_fails(session: Session, peer: FederationPeer,
                           message: FederationMessage) -> str:
        session.commit()  # as the emergency path stores its speech before sending
        raise BrokerUnavailable("broker gone between the two steps")

    answer = apply_batch(sessions, peer_id=1, messages=[first, second],
                         handler=commits_then_fails, now=NOW)
    assert [(r.id, r.outcome) for r in answer] == [(first.id, "retry"), (second.id, "retry")]
    assert _receipts(sessions) == []  # the receipt the handler's commit wrote is withdrawn

    def works(session: Session, peer: FederationPeer, message: FederationMessage) -> str:
        effects.append(message.id)
        return "done"

    answer = apply_batch(sessions, peer_id=1, messages=[first, second], handler=works, now=NOW)
    assert [r.outcome for r in answer] == ["applied", "applied"]
    answer = apply_batch(sessions, peer_id=1, messages=[first, second], handler=works, now=NOW)
    assert [r.outcome for r in answer] == ["duplicate", "duplicate"]
    assert effects == [first.id, second.id]  # each applied exactly once


def test_a_refused_message_is_recorded_once_with_its_reason(
        sessions: sessionmaker[Session]) -> None:
    message = _message()

    def refuses(session: Session, peer: FederationPeer, message: FederationMessage) -> str:
        session.commit()
        raise InvalidInput("bản tin không hợp lệ / invalid bulletin: no text")

    (answer,) = apply_batch(sessions, peer_id=1, messages=[message], handler=refuses, now=NOW)
    assert (answer.outcome, answer.reason) == ("refused",
                                               "bản tin không hợp lệ / invalid bulletin: no text")
    (again,) = apply_batch(sessions, peer_id=1, messages=[message], handler=refuses, now=NOW)
    assert again.outcome == "duplicate"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(FederationReceived)) == 1
