"""Stream a multipart upload straight into an UploadSink (never whole in memory)."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from control_center.api.multipart_headers import PartHeaders
from control_center.errors import InvalidInput, PayloadTooLarge
from control_center.services.media_store import UploadSink

FIELD = "file"
_MULTIPART_OVERHEAD = 64 * 1024

OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


class _Receiver(PartHeaders):
    """python-multipart callbacks: the part named ``file`` goes to the sink, others are ignored."""

    def __init__(self, media_dir: Path, max_bytes: int) -> None:
        self._media_dir, self._max = media_dir, max_bytes
        self._field, self._value = b"", b""
        self._headers: dict[bytes, bytes] = {}
        self._current: UploadSink | None = None
        self.sink: UploadSink | None = None
        self.filename = ""

    def on_part_begin(self) -> None:
        self._headers, self._current = {}, None

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if params.get(b"name") == FIELD.encode() and self.sink is None:
            self.filename = params.get(b"filename", b"").decode(errors="replace")
            self.sink = self._current = UploadSink(media_dir=self._media_dir, max_bytes=self._max)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current is not None:
            self._current.write(data[start:end])

    def on_part_end(self) -> None:
        self._current = None


async def receive_upload(
    request: Request, *, media_dir: Path, max_bytes: int
) -> tuple[UploadSink, str]:
    """Read the request body; return the sink holding the ``file`` part and its file name."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InvalidInput("send the audio as multipart/form-data with a field named 'file'")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes + _MULTIPART_OVERHEAD:
        raise PayloadTooLarge(
            f"the upload ({int(length)} bytes) exceeds the limit of {max_bytes} bytes "
            "(TT_MAX_UPLOAD_BYTES)"
        )
    receiver = _Receiver(media_dir, max_bytes)
    callbacks = {
        name: getattr(receiver, name)
        for name in ("on_part_begin", "on_header_field", "on_header_value", "on_header_end",
                     "on_headers_finished", "on_part_data", "on_part_end")
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BaseException as exc:
        if receiver.sink is not None:
            receiver.sink.discard()
        if isinstance(exc, MultipartParseError):
            raise InvalidInput(f"malformed multipart body: {exc}") from exc
        raise
    if receiver.sink is None:
        raise InvalidInput("the multipart body has no field named 'file'")
    return receiver.sink, receiver.filename
