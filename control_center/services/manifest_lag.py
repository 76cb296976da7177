"""Which devices hold an older manifest than the one the center published to them.

A device tells the version it holds in its status birth and in every health sample. Lower than
the center's published version, some time after the publish, means the device never got it
(the broker lost the retained copy, or the device's store was replaced): the center then
publishes that manifest again (``workers.republish``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.models import ManifestState


def devices_behind(session: Session, *, reported: Mapping[str, int], now: datetime,
                   settle: timedelta) -> list[str]:
    """The devices of ``reported`` (device id -> version held) whose published manifest is
    newer than what they hold and was published at least ``settle`` ago (a report made while
    the new version was on its way is not a sign of loss)."""
    if not reported:
        return []
    rows = session.execute(
        select(ManifestState.device_id, ManifestState.version, ManifestState.published_at)
        .where(ManifestState.device_id.in_(sorted(reported)))).all()
    return sorted(device_id for device_id, version, published_at in rows
                  if published_at is not None and reported[device_id] < version
                  and published_at <= now - settle)
