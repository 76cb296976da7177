"""What the two live audio routes share (the console's recorder, a device's microphone): the
chunk's number and recorder in the query, a raw body read up to a limit, the same refusals,
and the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field

from control_center.errors import FieldError, PayloadTooLarge

CHUNK_MAX = 1024 * 1024
OPENAPI_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}

SeqQuery = Annotated[int | None, Query(ge=0, le=10_000_000, description="the chunk's number, "
                                       "from 0, per recorder (required)")]
RecorderId = Annotated[str, Query(pattern=r"^[0-9A-Za-z_-]{1,64}$",
                                  description="the recorder's own id; a new one starts again "
                                              "at seq=0")]


class AudioAnswer(BaseModel):
    seq: int
    accepted: bool = Field(description="false: this chunk had already been received")


async def read_chunk(request: Request, *, what: str) -> bytes:
    """The raw body, refused past CHUNK_MAX while it streams (``what`` names the chunks)."""
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > CHUNK_MAX:
            raise PayloadTooLarge(f"an audio chunk is at most {CHUNK_MAX // 1024} KB: send "
                                  f"{what} of a fraction of a second")
    return bytes(data)


def checked_chunk(seq: int | None, data: bytes, *, what: str) -> int:
    """``seq``, once the chunk has a number and bytes (FieldError otherwise)."""
    if seq is None:
        raise FieldError("seq", "give the chunk's number in the query: ?seq=0 for a "
                                "recorder's first chunk, then 1, 2, ...")
    if not data:
        raise FieldError("body", f"the body is empty: send the bytes of one {what} "
                                 "(Content-Type: application/octet-stream)")
    return seq
