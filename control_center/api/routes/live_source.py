"""Device-facing: the audio of a live session whose source is a device's microphone.

Open in the permission table (devices hold no user account); the device presents its id and
the source token of its signed ``live_capture`` command. The chunks go through the same path
as the console's (``MicrophoneInputs.feed``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from control_center.api.deps import CenterDep, SessionDep
from control_center.api.routes.live_devices import AuthHeader, DeviceHeader, StreamPath
from control_center.api.routes.live_sessions import CHUNK_MAX, AudioAnswer
from control_center.errors import Conflict, FieldError, PayloadTooLarge
from control_center.live.mic_input import Fed
from control_center.live.source import admit_source
from control_center.workers.runtime import Center

router = APIRouter(prefix="/live", tags=["live"])


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@router.post("/{stream_id}/source", response_model=AudioAnswer,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/octet-stream": {"schema": {"type": "string",
                                                         "format": "binary"}}}}})
async def source_audio(
    stream_id: StreamPath, request: Request, session: SessionDep, center: CenterDep,
    x_device_id: DeviceHeader = "", authorization: AuthHeader = "",
    seq: Annotated[int | None, Query(ge=0, le=10_000_000,
                                     description="the chunk's number, from 0, per recorder "
                                                 "(required)")] = None,
    recorder: Annotated[str, Query(pattern=r"^[0-9A-Za-z_-]{1,64}$",
                                   description="the capture's own id; a new one starts "
                                               "again at seq=0")] = "device",
) -> AudioAnswer:
    """One Ogg/Opus chunk of the source device's microphone as the raw body, in order.

    401: no X-Device-Id or token; 403: not this session's source token, or a device that is
    not active; 404: no such session; 409: the session is not live (stop sending), or a gap;
    413: over 1 MB; 422: no seq, an empty body, or audio ffmpeg cannot read."""
    token = _bearer(authorization)
    await run_in_threadpool(admit_source, session, stream_id=stream_id, device_id=x_device_id,
                            token=token)
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > CHUNK_MAX:
            raise PayloadTooLarge(f"an audio chunk is at most {CHUNK_MAX // 1024} KB: send "
                                  "chunks of a fraction of a second")
    return await run_in_threadpool(_feed, session, center, stream_id, x_device_id, token, seq,
                                   recorder, bytes(data))


def _feed(session: Session, center: Center, stream_id: str, device_id: str, token: str,
          seq: int | None, recorder: str, data: bytes) -> AudioAnswer:
    if seq is None:
        raise FieldError("seq", "give the chunk's number in the query: ?seq=0 for a "
                                "capture's first chunk, then 1, 2, ...")
    if not data:
        raise FieldError("body", "the body is empty: send the bytes of one Ogg/Opus chunk "
                                 "(Content-Type: application/octet-stream)")
    session.expire_all()  # the session may have been stopped while the body came
    try:
        admit_source(session, stream_id=stream_id, device_id=device_id, token=token)
    except Conflict:
        center.microphones.close(stream_id)
        raise
    fed = center.microphones.feed(stream_id, recorder=recorder, seq=seq, data=data)
    return AudioAnswer(seq=seq, accepted=fed == Fed.FED)
