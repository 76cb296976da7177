"""The part-header callbacks python-multipart calls, shared by the streaming uploads."""

from __future__ import annotations


class PartHeaders:
    """Collects each part's headers into ``_headers`` (lower-case names); the subclass sets
    ``_headers``, ``_field`` and ``_value`` up and resets ``_headers`` when a part begins."""

    _headers: dict[bytes, bytes]
    _field: bytes
    _value: bytes

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field, self._value = b"", b""
