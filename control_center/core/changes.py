"""The unit of work's record of whose manifests changed.

A service that changes what devices should play calls ``manifests_changed`` in the same
transaction; once that transaction commits, one after-commit step in the workers
(``workers.publisher``) rebuilds and publishes exactly those manifests. No route has to
remember to republish, and a rolled-back change publishes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

_PENDING = "tt.manifests_changed"


def manifests_changed(session: Session, device_ids: Iterable[str]) -> None:
    """Note that these devices' manifests must be rebuilt when ``session`` commits."""
    pending: set[str] = session.info.setdefault(_PENDING, set())
    pending.update(device_ids)


def take_changed(session: Session) -> set[str]:
    """The devices noted so far, forgetting them (called once per commit or rollback)."""
    pending: set[str] = session.info.pop(_PENDING, set())
    return pending
