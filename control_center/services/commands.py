"""One-shot commands: signed, with an id and an expiry, published QoS 1 (not retained)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from control_center.broker.routing import Publisher
from control_center.errors import Conflict, InvalidInput
from control_center.models import Bulletin, BulletinKind, MediaAsset
from control_center.services.manifests import bulletin_content
from protocol.base import Priority
from protocol.manifest import Command, CommandAction, ItemContent, PlayItem, PlayNow
from protocol.signing import Signer
from protocol.topics import Channel, device_topic

log = logging.getLogger(__name__)

COMMAND_ITEM_PREFIX = "c-"
EMERGENCY_ITEM_PREFIX = "e-"


def play_now_for_bulletin(
    session: Session, *, bulletin: Bulletin, public_base_url: str, now: datetime
) -> PlayNow:
    """Turn 'play this (checked) bulletin now' into the protocol's PlayNow at the bulletin's
    own priority; emergency-priority play is the emergency desk's alone (``emergency=True``
    there), so an emergency bulletin is refused here."""
    if bulletin.priority == Priority.EMERGENCY:
        raise Conflict(f"bulletin {bulletin.id} is an emergency: it is played only as an "
                       "emergency broadcast (services.emergency)")
    media = {}
    for sha256 in filter(None, (bulletin.media_sha256, bulletin.voice_sha256)):
        if (asset := session.get(MediaAsset, sha256)) is not None:
            media[asset.sha256] = asset
    content = bulletin_content(bulletin, media=media, public_base_url=public_base_url)
    if bulletin.kind == BulletinKind.RELAY:
        raise InvalidInput(f"bulletin {bulletin.id} is a relay: it plays in the windows of its "
                           "schedules, not on command (schedule it instead)")
    if content is None and bulletin.kind == BulletinKind.TEXT:
        raise InvalidInput(f"bulletin {bulletin.id}: its voice is still being made (đang tạo "
                           "giọng đọc): try again shortly")
    if content is None:
        raise InvalidInput(f"bulletin {bulletin.id} has no playable content")
    return play_now(bulletin=bulletin, content=content, now=now)


def play_now(
    *, bulletin: Bulletin, content: ItemContent, now: datetime, emergency: bool = False,
) -> PlayNow:
    """The one play-now builder: the bulletin's content at ``now`` under a fresh item id; an
    emergency's item (``e-``) plays at emergency priority, a device command's (``c-``) at the
    bulletin's own."""
    prefix, digits = (EMERGENCY_ITEM_PREFIX, 20) if emergency else (COMMAND_ITEM_PREFIX, 16)
    item = PlayItem(
        item_id=f"{prefix}{uuid.uuid4().hex[:digits]}", bulletin_id=bulletin.id,
        title=bulletin.title, priority=Priority.EMERGENCY if emergency else bulletin.priority,
        start_at=now, content=content,
    )
    return PlayNow(item=item)


def is_emergency_item(item_id: str) -> bool:
    """True for the item id of an emergency broadcast (built by ``play_now``)."""
    return item_id.startswith(EMERGENCY_ITEM_PREFIX)


def command_messages(
    signer: Signer, *, command_id: str, device_ids: Iterable[str], action: CommandAction,
    now: datetime, expires_at: datetime,
) -> list[tuple[str, bytes]]:
    """One signed command per device, all under one id, ready for the bridge."""
    return [(device_topic(device_id, Channel.CMD), signer.seal(Command(
        id=command_id, device_id=device_id, issued_at=now, expires_at=expires_at,
        action=action))) for device_id in device_ids]


def new_command(*, device_id: str, action: CommandAction, now: datetime,
                ttl: timedelta) -> Command:
    """A one-shot command for one device under a fresh id, expiring ``ttl`` from now."""
    return Command(id=uuid.uuid4().hex, device_id=device_id, issued_at=now,
                   expires_at=now + ttl, action=action)


def publish_command(command: Command, *, signer: Signer, bridge: Publisher,
                    timeout_s: float) -> None:
    """Sign and publish (QoS 1, not retained); raises BrokerUnavailable without a PUBACK."""
    bridge.publish_and_wait(device_topic(command.device_id, Channel.CMD), signer.seal(command),
                            qos=1, retain=False, timeout=timeout_s)
    log.info("command %s (%s) sent to %s", command.id, command.action.type, command.device_id)
