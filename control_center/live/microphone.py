"""Live microphone sessions from the console: create, start (the confirmation), stop, count.

A session is a ``LiveStream`` of kind microphone aimed at a unit subtree. Creating it saves
it as prepared (nothing reaches a device); starting it sends every active device under the
target a signed ``play_now`` command whose item (``live-<id>``) carries the stream with that
device's own token, at the session's priority (an emergency one interrupts whatever plays).
Audio then comes chunk by chunk (``mic_input``); stopping ends the stream (devices get 410 and
complete the item) and keeps its recording as media, with an audit entry naming who spoke,
to which unit, when, for how long, and the recording's hash. The audio comes from the console
or, when the session names a source device, from that Pi's microphone (``live.source``).
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.live_tokens import device_token, new_secret, new_stream_id
from control_center.core.permissions import Permission
from control_center.core.targets import descendant_unit_ids
from control_center.errors import CenterError, Conflict, FieldError, NotFound
from control_center.live.desk import LiveDesk
from control_center.live.mic_input import MicrophoneInputs
from control_center.live.recording import make_recording
from control_center.live.relays import live_content_for, stream_url
from control_center.live.source import capture_messages, source_device
from control_center.models import (
    AdminUnit,
    Device,
    DeviceState,
    LiveKind,
    LiveState,
    LiveStream,
    PlayLog,
    PlayStatus,
)
from control_center.services.commands import command_messages
from control_center.services.emergency import EmergencyDesk, require_link
from protocol.base import Priority
from protocol.manifest import PlayItem, PlayNow

log = logging.getLogger(__name__)

MAX_SESSION = timedelta(hours=2)
"""The longest a live item plays on a device (its ``ends_at``) if nobody presses stop."""
DEFAULT_DELAY_MS = 1500
TITLE_MAX = 500
ITEM_PREFIX = "live-"
OBJECT_TYPE = "live_session"
CREATE_ACTION, START_ACTION, STOP_ACTION = "live_create", "live_start", "live_stop"


@dataclass(frozen=True, slots=True)
class Counts:
    """Devices told at start (or, before it, that would be), playing now, and ever started."""

    targeted: int
    playing: int
    started: int


def item_id(stream_id: str) -> str:
    return f"{ITEM_PREFIX}{stream_id}"


def _require_priority(actor: Actor, priority: Priority) -> None:
    actor.require(Permission.LIVE)
    if priority == Priority.EMERGENCY:
        actor.require(Permission.EMERGENCY)


def create_session(
    session: Session, *, actor: Actor, title: str, priority: Priority, target_unit_id: int,
    now: datetime, delay_ms: int = DEFAULT_DELAY_MS, source_device_id: str | None = None,
) -> LiveStream:
    """Step 1: a prepared session aimed at ``target_unit_id`` (inside the actor's subtree),
    spoken from the console or from the microphone of ``source_device_id`` (an active device
    inside the actor's subtree)."""
    _require_priority(actor, priority)
    title = " ".join(title.split())
    if not title:
        raise FieldError("title", "Nhập tiêu đề buổi phát / give the live session a title")
    if len(title) > TITLE_MAX:
        raise FieldError("title", f"Tiêu đề tối đa {TITLE_MAX} ký tự / the title is longer "
                                  f"than {TITLE_MAX} characters")
    if session.get(AdminUnit, target_unit_id) is None or not actor.covers(target_unit_id):
        raise FieldError("target_unit_id", f"đơn vị {target_unit_id} không tồn tại / unit "
                                           f"{target_unit_id} does not exist", status_code=404)
    if source_device_id is not None:
        source_device(session, actor=actor, device_id=source_device_id)
    row = LiveStream(
        id=new_stream_id(), kind=LiveKind.MICROPHONE, title=title, priority=priority,
        state=LiveState.PREPARED, secret=new_secret(), target_unit_id=target_unit_id,
        unit_id=actor.unit_id, created_by=actor.name[:100], delay_ms=delay_ms, created_at=now,
        source_device_id=source_device_id)
    session.add(row)
    audit.record(session, actor=actor, action=CREATE_ACTION, object_type=OBJECT_TYPE,
                 object_id=row.id, at=now,
                 detail={"title": title, "priority": priority.value,
                         "target_unit_id": target_unit_id,
                         "source": "device" if source_device_id else "console",
                         "source_device_id": source_device_id})
    session.commit()
    return row


def get_session(session: Session, *, actor: Actor, stream_id: str) -> LiveStream:
    """A microphone session whose target lies in the actor's subtree (404 otherwise)."""
    row = session.get(LiveStream, stream_id)
    if row is None or row.kind != LiveKind.MICROPHONE or not actor.covers(row.target_unit_id):
        raise NotFound(f"live session {stream_id} does not exist")
    return row


def list_sessions(session: Session, *, actor: Actor, limit: int = 50) -> list[LiveStream]:
    """The newest microphone sessions aimed inside the actor's subtree."""
    query = select(LiveStream).where(LiveStream.kind == LiveKind.MICROPHONE)
    if actor.scope is not None:
        query = query.where(LiveStream.target_unit_id.in_(actor.scope))
    return list(session.scalars(query.order_by(LiveStream.created_at.desc()).limit(limit)))


def target_devices(session: Session, *, row: LiveStream) -> list[str]:
    """The active devices under the session's target unit, by id (never its source device:
    its loudspeaker would feed back into the microphone beside it)."""
    subtree = descendant_unit_ids(session, unit_ids=[row.target_unit_id or 0])
    return [d for d in session.scalars(select(Device.id).where(
        Device.unit_id.in_(subtree), Device.state == DeviceState.ACTIVE).order_by(Device.id))
        if d != row.source_device_id]


def target_unit_name(session: Session, *, row: LiveStream) -> str:
    unit = session.get(AdminUnit, row.target_unit_id or 0)
    return unit.name if unit is not None else "—"


def start_session(
    session: Session, *, desk: EmergencyDesk, actor: Actor, stream_id: str, now: datetime,
) -> tuple[LiveStream, int, int]:
    """Step 2: on air. Returns the row, the devices told and the commands the broker took."""
    row = get_session(session, actor=actor, stream_id=stream_id)
    _require_priority(actor, row.priority)
    if row.state != LiveState.PREPARED:
        raise Conflict(f"live session {stream_id} is {row.state.value}: only a prepared "
                       "session can be started (create a new one)")
    devices = target_devices(session, row=row)
    if not devices:
        raise FieldError("target_unit_id", "Đơn vị này chưa có thiết bị hoạt động / the "
                                           "target unit has no active device to speak to")
    if row.source_device_id is not None:
        source_device(session, actor=actor, device_id=row.source_device_id)  # still active
    require_link(desk)
    ends_at = now + MAX_SESSION
    command_id = uuid.uuid4().hex
    row.state, row.started_at = LiveState.LIVE, now
    audit.record(session, actor=actor, action=START_ACTION, object_type=OBJECT_TYPE,
                 object_id=row.id, at=now, flagged=row.priority == Priority.EMERGENCY,
                 detail={"title": row.title, "priority": row.priority.value,
                         "target_unit_id": row.target_unit_id, "device_ids": devices,
                         "device_count": len(devices), "command_id": command_id,
                         "source_device_id": row.source_device_id,
                         "ends_at": ends_at.isoformat()})
    session.commit()
    url = stream_url(desk.public_base_url, row.id)
    template = live_content_for(row, public_base_url=desk.public_base_url, filler=None)
    messages = []
    for device_id in devices:  # one command per device: each carries that device's own token
        content = template.model_copy(update={
            "token": device_token(row.secret, device_id), "ends_at": ends_at})
        action = PlayNow(item=PlayItem(item_id=item_id(row.id), bulletin_id=0, title=row.title,
                                       priority=row.priority, start_at=now, content=content))
        messages += command_messages(desk.signer, command_id=command_id, device_ids=[device_id],
                                     action=action, now=now, expires_at=ends_at)
    messages += capture_messages(desk.signer, row=row, command_id=command_id, url=url, now=now,
                                 until=ends_at)
    acked = desk.bridge.wait_many(desk.bridge.send_many(messages, qos=1, retain=False),
                                  timeout=desk.publish_timeout_s)
    published = sum(1 for ok in acked[:len(devices)] if ok)
    if row.source_device_id is not None and not acked[-1]:
        log.warning("live session %s: the broker did not take the live_capture command of "
                    "source device %s", row.id, row.source_device_id)
    log.info("live session %s started by %s: %d of %d devices told", row.id, actor.name,
             published, len(devices))
    return row, len(devices), published


def stop_session(
    session: Session, *, desk: EmergencyDesk, live: LiveDesk, inputs: MicrophoneInputs,
    actor: Actor, stream_id: str, now: datetime,
) -> LiveStream:
    """End the session (a no-op on an ended one) and keep its recording with the audit."""
    row = get_session(session, actor=actor, stream_id=stream_id)
    actor.require(Permission.LIVE)
    if row.state == LiveState.ENDED:
        return row
    inputs.close(row.id)
    was_live = row.state == LiveState.LIVE
    row.state, row.ended_at = LiveState.ENDED, now
    session.commit()
    recording, problem = (_keep_recording(session, desk=desk, live=live, actor=actor, row=row,
                                          now=now) if was_live else (None, None))
    row.recording_sha256 = recording
    seconds = round((now - row.started_at).total_seconds()) if row.started_at else 0
    audit.record(session, actor=actor, action=STOP_ACTION, object_type=OBJECT_TYPE,
                 object_id=row.id, at=now, flagged=problem is not None,
                 detail={"title": row.title, "spoken_by": row.created_by,
                         "stopped_by": actor.name, "target_unit_id": row.target_unit_id,
                         "target_unit_name": target_unit_name(session, row=row),
                         "priority": row.priority.value, "started_at": row.started_at,
                         "ended_at": now, "duration_s": seconds,
                         "recording_sha256": recording, "recording_problem": problem})
    session.commit()
    return row


def _keep_recording(session: Session, *, desk: EmergencyDesk, live: LiveDesk, actor: Actor,
                    row: LiveStream, now: datetime) -> tuple[str | None, str | None]:
    """The recording's media hash (None when no audio came), and what went wrong if it
    could not be kept (the stop itself still succeeds)."""
    with tempfile.TemporaryDirectory(prefix="live-rec-") as tmp:
        try:
            path = make_recording(live.store.root / row.id, Path(tmp))
        except RuntimeError as exc:
            log.error("live session %s: recording not made: %s", row.id, exc)
            return None, str(exc)
        if path is None:
            return None, None
        sink = desk.intake.sink()
        try:
            sink.copy_from(path)
            received = desk.intake.receive(session, sink=sink, actor=actor, now=now,
                                           name=f"Trực tiếp / live {row.title}"[:200])
        except CenterError as exc:
            sink.discard()
            log.error("live session %s: recording not stored: %s", row.id, exc)
            return None, str(exc)
    return received.sha256, None


def counts(session: Session, *, row: LiveStream) -> Counts:
    """The session's device counts, from the start's audit entry and the play logs."""
    if row.state == LiveState.PREPARED:
        return Counts(len(target_devices(session, row=row)), 0, 0)
    entry = audit.list_entries(session, object_type=OBJECT_TYPE, object_id=row.id,
                               action=START_ACTION, limit=1)
    told = _detail(entry[0].detail).get("device_count") if entry else None
    targeted = told if isinstance(told, int) else 0
    by_status: dict[PlayStatus, int] = {status: n for status, n in session.execute(
        select(PlayLog.status, func.count()).where(PlayLog.item_id == item_id(row.id))
        .group_by(PlayLog.status))}
    playing = by_status.get(PlayStatus.STARTED, 0)
    started = playing + sum(by_status.get(s, 0) for s in (PlayStatus.COMPLETED,
                                                           PlayStatus.INTERRUPTED))
    return Counts(targeted, playing, started)


def _detail(raw: str) -> dict[str, object]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
