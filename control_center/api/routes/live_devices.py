"""Device-facing live routes: the next signed segment of a stream, and its init segment.

Open in the permission table (devices hold no user account); each request carries the
device's id and its token for the stream, which only its signed manifest or command gave it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.concurrency import run_in_threadpool

from control_center.api.deps import CenterDep
from control_center.errors import NotFound
from control_center.live.segments import Position
from control_center.models import LiveState

router = APIRouter(prefix="/live", tags=["live"])

StreamPath = Annotated[str, Path(pattern=r"^[0-9a-f]{16,64}$", description="a live stream's id")]
ShaPath = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lower-case hex")]
DeviceHeader = Annotated[str, Header(alias="X-Device-Id", max_length=63,
                                     description="the pulling device's id")]
AuthHeader = Annotated[str, Header(alias="Authorization", max_length=200,
                                   description="Bearer <the device's token for this stream>")]
SEGMENT_HEADER = "X-Live-Segment"
NO_STORE = {"Cache-Control": "no-store"}


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (empty otherwise)."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@router.get("/{stream_id}/next", responses={
    200: {"content": {"audio/mp4": {}}, "description": "the segment; its signed descriptor "
          "(the sealed LiveSegment, its JSON as is) in the X-Live-Segment header"},
    204: {"description": "no segment within wait_s (the source is silent or gone)"},
    410: {"description": "the stream has ended"}})
async def next_segment(
    stream_id: StreamPath, center: CenterDep,
    x_device_id: DeviceHeader = "", authorization: AuthHeader = "",
    after: Annotated[str | None, Query(pattern=r"^[0-9]{1,9}:[0-9]{1,9}$",
                                       description="run:seq of the last segment held")] = None,
    wait_s: Annotated[float, Query(ge=0, le=25, description="longest wait for it")] = 10.0,
) -> Response:
    """The segment after ``after`` (the newest without it), waiting for it to be written.

    A segment too old to be played within the stream's delay is skipped for the newest.
    """
    token = bearer_token(authorization)
    facts = center.live.admitted(stream_id, device_id=x_device_id, token=token)
    if facts is None:
        facts = await run_in_threadpool(center.live.admit, stream_id, device_id=x_device_id,
                                        token=token)
    position = None
    if after is not None:
        run, seq = after.split(":")
        position = Position(int(run), int(seq))
    wait = 0.0 if facts.state == LiveState.ENDED else wait_s
    stored = await center.live.next_segment(stream_id, after=position, delay_ms=facts.delay_ms,
                                            wait_s=wait)
    if stored is None:
        status = 410 if facts.state == LiveState.ENDED else 204
        return Response(status_code=status, headers=NO_STORE)
    # the envelope is ASCII JSON (hex, numbers, instants): a header value as it is
    headers = {SEGMENT_HEADER: stored.envelope.decode("ascii"), **NO_STORE}
    return Response(stored.data, media_type="audio/mp4", headers=headers)


@router.get("/{stream_id}/init/{sha256}", responses={
    200: {"content": {"audio/mp4": {}}, "description": "the run's initialisation segment"}})
async def init_segment(stream_id: StreamPath, sha256: ShaPath, center: CenterDep,
                       x_device_id: DeviceHeader = "", authorization: AuthHeader = "",
                       ) -> Response:
    """A run's initialisation segment, named by the hash its signed descriptors give."""
    await run_in_threadpool(center.live.admit, stream_id, device_id=x_device_id,
                            token=bearer_token(authorization))
    data = await run_in_threadpool(center.live.store.init_segment, stream_id, sha256)
    if data is None:
        raise NotFound(f"stream {stream_id} has no initialisation segment {sha256}")
    return Response(data, media_type="audio/mp4",
                    headers={"Cache-Control": "private, max-age=86400, immutable"})
