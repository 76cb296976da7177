"""What devices report about an update, applied to their row of the rollout.

An ``update`` report (``UpdateReport``) sets the row's stage and the duration the agent
measured; ``confirmed``, ``rolled_back`` and ``failed`` end the device's update (even after
the center timed it out: the device's own word wins). A stage reported after the end (an
outbox replaying late) only fills its duration. A ``command_ack`` refusing (or arriving
after the expiry of) the update command ends the device's update as ``failed``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.models import Rollout, RolloutDevice
from control_center.models import RolloutDeviceState as Rd
from protocol.events import CommandAck, CommandOutcome, UpdateReport, UpdateStage

log = logging.getLogger(__name__)

_ENDS = {UpdateStage.CONFIRMED: Rd.CONFIRMED, UpdateStage.ROLLED_BACK: Rd.ROLLED_BACK,
         UpdateStage.FAILED: Rd.FAILED}


def apply_update_report(session: Session, *, event: UpdateReport, now: datetime) -> bool:
    """Record the report on the device's rollout row; False when it belongs to none."""
    row = _row_for(session, event)
    if row is None:
        log.info("update report of %s for %s (rollout %s) matches no rollout", event.device_id,
                 event.version, event.rollout_id)
        return False
    if event.duration_ms is not None:
        if event.stage == UpdateStage.DOWNLOADED:
            row.download_ms = event.duration_ms
        elif event.stage == UpdateStage.INSTALLED:
            row.install_ms = event.duration_ms
        elif event.stage == UpdateStage.RESTARTING:
            row.restart_ms = event.duration_ms
        else:
            row.confirm_ms = event.duration_ms
    end = _ENDS.get(event.stage)
    if row.state.ended and end is None:
        return True  # a late intermediate stage: its duration only
    row.stage, row.stage_at = event.stage, now
    if event.reason:
        row.reason = event.reason[:500]
    if end is not None:
        row.state, row.ended_at = end, now
        if end == Rd.CONFIRMED and not event.reason:
            row.reason = ""
    return True


def apply_ack(session: Session, *, ack: CommandAck, now: datetime) -> bool:
    """A refused or expired update command ends the device's update as failed."""
    if ack.outcome == CommandOutcome.ACCEPTED:
        return False
    row = session.scalar(select(RolloutDevice).where(
        RolloutDevice.command_id == ack.command_id, RolloutDevice.device_id == ack.device_id))
    if row is None or row.state.ended:
        return False
    row.state, row.ended_at = Rd.FAILED, now
    row.reason = (f"thiết bị từ chối lệnh / the device answered {ack.outcome.value}: "
                  f"{ack.reason}").rstrip(": ")[:500]
    return True


def _row_for(session: Session, event: UpdateReport) -> RolloutDevice | None:
    """The row of the report's rollout, else the device's latest row sent for its version."""
    query = (select(RolloutDevice).join(Rollout)
             .where(RolloutDevice.device_id == event.device_id,
                    Rollout.version == event.version, RolloutDevice.sent_at.is_not(None)))
    if event.rollout_id is not None:
        query = query.where(RolloutDevice.rollout_id == event.rollout_id)
    return session.scalar(query.order_by(RolloutDevice.id.desc()).limit(1))
