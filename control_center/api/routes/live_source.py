"""Device-facing: the audio of a live session whose source is a device's microphone.

Open in the permission table (devices hold no user account); the device presents its id and
the source token of its signed ``live_capture`` command. The chunks go through the same path
as the console's (``MicrophoneInputs.feed``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from control_center.api.audio_chunks import (
    OPENAPI_BODY,
    AudioAnswer,
    RecorderId,
    SeqQuery,
    checked_chunk,
    read_chunk,
)
from control_center.api.deps import CenterDep, SessionDep
from control_center.api.routes.live_devices import (
    AuthHeader,
    DeviceHeader,
    StreamPath,
    bearer_token,
)
from control_center.errors import Conflict
from control_center.live.mic_input import Fed
from control_center.live.source import admit_source
from control_center.workers.runtime import Center

router = APIRouter(prefix="/live", tags=["live"])


@router.post("/{stream_id}/source", response_model=AudioAnswer, openapi_extra=OPENAPI_BODY)
async def source_audio(
    stream_id: StreamPath, request: Request, session: SessionDep, center: CenterDep,
    x_device_id: DeviceHeader = "", authorization: AuthHeader = "",
    seq: SeqQuery = None, recorder: RecorderId = "device",
) -> AudioAnswer:
    """One Ogg/Opus chunk of the source device's microphone as the raw body, in order.

    401: no X-Device-Id or token; 403: not this session's source token, or a device that is
    not active; 404: no such session; 409: the session is not live (stop sending), or a gap;
    413: over 1 MB; 422: no seq, an empty body, or audio ffmpeg cannot read."""
    token = bearer_token(authorization)
    await run_in_threadpool(admit_source, session, stream_id=stream_id, device_id=x_device_id,
                            token=token)
    data = await read_chunk(request, what="chunks")
    return await run_in_threadpool(_feed, session, center, stream_id, x_device_id, token, seq,
                                   recorder, data)


def _feed(session: Session, center: Center, stream_id: str, device_id: str, token: str,
          seq: int | None, recorder: str, data: bytes) -> AudioAnswer:
    number = checked_chunk(seq, data, what="Ogg/Opus chunk")
    session.expire_all()  # the session may have been stopped while the body came
    try:
        admit_source(session, stream_id=stream_id, device_id=device_id, token=token)
    except Conflict:
        center.microphones.close(stream_id)
        raise
    fed = center.microphones.feed(stream_id, recorder=recorder, seq=number, data=data)
    return AudioAnswer(seq=number, accepted=fed == Fed.FED)
