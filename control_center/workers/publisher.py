"""One after-commit step that publishes the manifests a transaction changed.

Installed once on the center's write-session factory: every commit that noted changed
manifests (``core.changes.manifests_changed``) syncs those devices right after the commit,
still in the request that made the change, so the API can report the delivery
(``last_sync``). A rollback forgets the noted devices.
"""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from control_center.core.changes import take_changed
from control_center.workers.manifest_sync import ManifestSync, SyncReport

log = logging.getLogger(__name__)
_DELIVERY = "tt.manifest_delivery"


class ManifestPublisher:
    """Syncs the devices a committed transaction noted; ``last_sync`` says how it went."""

    def __init__(self, sync: ManifestSync) -> None:
        self._sync = sync

    def install(self, sessions: sessionmaker[Session]) -> None:
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_soft_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        session.info.pop(_DELIVERY, None)
        devices = take_changed(session)
        if devices:
            session.info[_DELIVERY] = self._sync.sync(devices)

    @staticmethod
    def _after_rollback(session: Session, previous_transaction: object) -> None:
        if dropped := take_changed(session):
            log.debug("rollback: %d noted manifest change(s) dropped", len(dropped))


def last_sync(session: Session) -> SyncReport:
    """What the last commit of ``session`` published (an empty report when nothing changed)."""
    report = session.info.get(_DELIVERY)
    return report if isinstance(report, SyncReport) else SyncReport()
