"""A Pi's microphone as the source of a live session (live from a commune office).

The session names its source device (``LiveStream.source_device_id``): an active device in the
operator's subtree. Starting the session sends that device a signed ``live_capture`` command
with its *source* token, derived from the stream's secret under ``source|<device>`` so that a
listener's token (derived under the device id alone) can never upload. The device POSTs its
Ogg/Opus chunks to ``/api/v1/live/{stream}/source``; they go through the same ``mic_input``
path as the console's chunks. The source device is not sent the session's ``play_now`` even
when it stands in the target subtree: its loudspeaker would feed the microphone beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.core.live_tokens import device_token, token_matches
from control_center.errors import Conflict, FieldError, Forbidden, NotAuthenticated, NotFound
from control_center.models import Device, DeviceState, LiveKind, LiveState, LiveStream
from control_center.services.commands import command_messages
from protocol.manifest import LiveCapture
from protocol.signing import Signer

CONSOLE = "console"
DEVICE = "device"


@dataclass(frozen=True, slots=True)
class SourceOption:
    device_id: str
    label: str


def _source_of(device_id: str) -> str:
    """The name a source token is derived for: never a device id, so never a listener's."""
    return f"source|{device_id}"


def source_token(secret: str, device_id: str) -> str:
    """The token ``device_id`` presents to upload a stream's audio (never a listener's)."""
    return device_token(secret, _source_of(device_id))


def source_device(session: Session, *, actor: Actor, device_id: str) -> Device:
    """The device to speak from: in the actor's subtree (404) and active (422)."""
    device = session.get(Device, device_id)
    if device is None or not actor.covers(device.unit_id):
        raise FieldError("source_device_id", f"thiết bị {device_id} không tồn tại / device "
                                             f"{device_id} does not exist", status_code=404)
    if device.state != DeviceState.ACTIVE:
        raise FieldError("source_device_id", f"thiết bị {device_id} đang {device.state.value}, "
                                             "không phát được / the device is "
                                             f"{device.state.value}: only an active device "
                                             "can be the source")
    return device


def source_options(session: Session, *, actor: Actor) -> list[SourceOption]:
    """The active devices of the actor's subtree, as choices of a session's source."""
    query = select(Device).where(Device.state == DeviceState.ACTIVE)
    if actor.scope is not None:
        query = query.where(Device.unit_id.in_(actor.scope))
    return [SourceOption(d.id, f"{d.name} ({d.id})")
            for d in session.scalars(query.order_by(Device.id).limit(500))]


def capture_messages(signer: Signer, *, row: LiveStream, command_id: str, url: str,
                     now: datetime, until: datetime) -> list[tuple[str, bytes]]:
    """The signed ``live_capture`` command for the session's source (none for the console)."""
    if row.source_device_id is None:
        return []
    action = LiveCapture(stream_id=row.id, url=url, until=until,
                         token=source_token(row.secret, row.source_device_id))
    return command_messages(signer, command_id=command_id, device_ids=[row.source_device_id],
                            action=action, now=now, expires_at=until)


def admit_source(session: Session, *, stream_id: str, device_id: str,
                 token: str) -> LiveStream:
    """The live session ``device_id`` may upload to with ``token``: 401 without them, 403 for
    a token that is not its source token for this stream or a device no longer active, 409
    once the session is not live (the device stops on it)."""
    if not device_id or not token:
        raise NotAuthenticated("a source device uploads with its X-Device-Id and the token of "
                               "its live_capture command (Authorization: Bearer ...)")
    row = session.get(LiveStream, stream_id)
    if row is None or row.kind != LiveKind.MICROPHONE:
        raise NotFound(f"no live session {stream_id}")
    if (row.source_device_id != device_id
            or not token_matches(row.secret, _source_of(device_id), token)):
        raise Forbidden("this token does not let this device send this session's audio")
    state = session.scalar(select(Device.state).where(Device.id == device_id))
    if state != DeviceState.ACTIVE:
        raise Forbidden(f"device {device_id} is not active")
    if row.state != LiveState.LIVE:
        raise Conflict(f"live session {stream_id} is {row.state.value}: stop sending")
    return row

