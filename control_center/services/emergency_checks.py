"""What an emergency request must pass before anything is saved: the typed confirmation,
the chosen units and the devices they reach, exactly one source of content, and a bulletin
the actor may broadcast now."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.core.permissions import Permission
from control_center.core.targets import descendant_unit_ids
from control_center.errors import Conflict, FieldError, Forbidden
from control_center.models import AdminUnit, Bulletin, BulletinStatus, Device
from protocol.base import Priority

CONFIRM_WORD = "PHÁT KHẨN CẤP"
TITLE_MAX = 500


@dataclass(frozen=True, slots=True)
class Message:
    """What to broadcast: exactly one of an approved bulletin, a processed upload, a text."""

    bulletin_id: int | None = None
    media_sha256: str | None = None
    text: str | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """The chosen subtree roots and the devices (id -> unit id) they reach for this actor."""

    unit_ids: tuple[int, ...]
    unit_names: tuple[str, ...]
    devices: dict[str, int]


def confirmation_ok(typed: str | None) -> bool:
    """The typed confirmation matches CONFIRM_WORD (any case; composed or decomposed marks)."""
    text = unicodedata.normalize("NFC", typed or "").strip()
    return " ".join(text.split()).casefold() == CONFIRM_WORD.casefold()


def check_confirmation(typed: str | None) -> None:
    if not confirmation_ok(typed):
        raise FieldError("confirm", f'Gõ đúng "{CONFIRM_WORD}" để xác nhận / type '
                                    f'"{CONFIRM_WORD}" to confirm the emergency broadcast')


def plan(session: Session, *, actor: Actor, unit_ids: list[int]) -> Plan:
    """Check the chosen units (inside the actor's subtree) and find the devices they reach."""
    ids = list(dict.fromkeys(unit_ids))
    if not ids:
        raise FieldError("unit_ids", "Chọn ít nhất một đơn vị / choose at least one unit")
    units = {u.id: u for u in session.scalars(select(AdminUnit).where(AdminUnit.id.in_(ids)))}
    for unit_id in ids:
        if unit_id not in units or not actor.covers(unit_id):
            raise FieldError("unit_ids", f"đơn vị {unit_id} không tồn tại / unit {unit_id} "
                                         "does not exist", status_code=404)
    subtree = descendant_unit_ids(session, unit_ids=ids)
    rows = session.execute(select(Device.id, Device.unit_id)
                           .where(Device.unit_id.in_(subtree)).order_by(Device.id))
    devices = {device_id: unit for device_id, unit in rows if actor.covers(unit)}
    if not devices:
        raise FieldError("unit_ids", "Các đơn vị đã chọn chưa có thiết bị nào / the chosen "
                                     "units have no device to broadcast to")
    return Plan(tuple(ids), tuple(units[u].name for u in ids), devices)


def source_of(message: Message) -> str:
    """Which content was given: "bulletin", "media" or "text" (exactly one is allowed)."""
    given = [name for name, value in (("bulletin", message.bulletin_id),
                                      ("media", message.media_sha256),
                                      ("text", (message.text or "").strip())) if value]
    if not given:
        raise FieldError("message", "Chọn một bản tin đã duyệt, tải lên bản ghi âm hoặc nhập "
                                    "nội dung / pick an approved bulletin, upload a recording "
                                    "or type a text")
    if len(given) > 1 and given != ["media", "text"]:  # a spoken text carries both
        raise FieldError("message", "Chỉ chọn một nguồn nội dung / give only one of "
                                    "bulletin_id, media_sha256 or text")
    return given[0]


def check_sendable(bulletin: Bulletin, actor: Actor) -> bool:
    """Raise unless the bulletin may be broadcast by ``actor`` now; True when it must be
    approved by the actor first (a submitted emergency bulletin, actor an approver)."""
    if bulletin.status.broadcastable:
        return False
    if (bulletin.status == BulletinStatus.SUBMITTED and bulletin.priority == Priority.EMERGENCY
            and actor.may(Permission.APPROVE)):
        if bulletin.submitted_by == actor.name or bulletin.created_by == actor.name:
            raise Forbidden("không tự duyệt bản tin của mình: cần người duyệt khác / approvers "
                            "never approve their own bulletin: another approver must send it")
        return True
    raise Conflict(f"bản tin {bulletin.id} chưa được duyệt ({bulletin.status.value}) / bulletin "
                   f"{bulletin.id} is {bulletin.status.value}, not approved: an approver must "
                   "approve it before it can be broadcast")
