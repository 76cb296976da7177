"""Stream a release upload (multipart ``version``, ``notes``, one or more ``files``) into a
``ReleaseStaging`` directory: every wheel hashed while written, never whole in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from control_center.api.multipart_headers import PartHeaders
from control_center.errors import InvalidInput, PayloadTooLarge
from control_center.services.releases import MAX_NOTES, ReleaseStaging

FILES, TEXT_FIELDS = "files", ("version", "notes")
_MULTIPART_OVERHEAD = 64 * 1024
_MAX_TEXT = 4 * MAX_NOTES

OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["version", FILES],
            "properties": {
                "version": {"type": "string", "examples": ["0.2.0"]},
                "notes": {"type": "string"},
                FILES: {"type": "array", "items": {"type": "string", "format": "binary"}},
            },
        }}},
    }
}


@dataclass
class _Receiver(PartHeaders):
    """python-multipart callbacks: ``files`` parts to the staging, text fields kept."""

    staging: ReleaseStaging
    texts: dict[str, str] = field(default_factory=dict)
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _field: bytes = b""
    _value: bytes = b""
    _text: str | None = None
    _buffer: bytearray = field(default_factory=bytearray)

    def on_part_begin(self) -> None:
        self._headers, self._text = {}, None
        self._buffer.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode(errors="replace")
        if name == FILES:
            self.staging.begin(params.get(b"filename", b"").decode(errors="replace"))
        elif name in TEXT_FIELDS:
            self._text = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._text is not None:
            self._buffer += data[start:end]
            if len(self._buffer) > _MAX_TEXT:
                raise InvalidInput(f"the field {self._text!r} is too long")
        else:
            self.staging.write(data[start:end])

    def on_part_end(self) -> None:
        if self._text is not None:
            self.texts[self._text] = self._buffer.decode(errors="replace")
            self._text = None
        else:
            self.staging.end()


def require_multipart(request: Request) -> bytes:
    """The multipart boundary (422 for any other body; 413 for a declared length over
    the limit is checked by ``receive_release``)."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InvalidInput("send the release as multipart/form-data: 'version', 'notes' "
                           "(optional) and one or more 'files' (.whl)")
    return bytes(boundary)


async def receive_release(request: Request, *, staging: ReleaseStaging,
                          max_bytes: int) -> dict[str, str]:
    """Read the body into ``staging``; return the text fields. On any failure the staging
    is discarded and the error raised (422 malformed, 413 too large)."""
    try:
        boundary = require_multipart(request)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes + _MULTIPART_OVERHEAD:
            raise PayloadTooLarge(f"the upload ({int(length)} bytes) exceeds the limit of "
                                  f"{max_bytes} bytes (TT_MAX_UPLOAD_BYTES)")
        receiver = _Receiver(staging)
        callbacks = {name: getattr(receiver, name) for name in (
            "on_part_begin", "on_header_field", "on_header_value", "on_header_end",
            "on_headers_finished", "on_part_data", "on_part_end")}
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        staging.discard()
        raise InvalidInput(f"malformed multipart body: {exc}") from exc
    except BaseException:
        staging.discard()
        raise
    return receiver.texts
