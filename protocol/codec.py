"""Bytes <-> models, with every failure converted to a protocol error."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from protocol import PROTOCOL_VERSION
from protocol.errors import MalformedMessage, UnsupportedVersion
from protocol.events import DEVICE_EVENT_ADAPTER, DeviceEvent, Status
from protocol.manifest import Command, Manifest
from protocol.release import ReleaseManifest
from protocol.telemetry import HealthReport

M = TypeVar("M", bound=BaseModel)
MAX_PAYLOAD_BYTES = 256 * 1024
INT64_MAX = 2**63 - 1  # what a database column holds: larger integers are refused


def _int64(text: str) -> int:
    if len(text) > 20 or not -INT64_MAX - 1 <= (value := int(text)) <= INT64_MAX:
        raise MalformedMessage(f"integer {text[:24]}{'…' if len(text) > 24 else ''} is out "
                               "of range (64-bit)")
    return value


def _no_constant(name: str) -> float:
    raise MalformedMessage(f"{name} is not a JSON number")


def parse_json(raw: bytes | str) -> object:
    """Strict JSON for messages from the network: integers within 64 bits, no NaN or
    Infinity, no lone surrogates, bounded nesting; anything else is ``MalformedMessage``."""
    try:
        data = json.loads(raw, parse_int=_int64, parse_constant=_no_constant)
    except MalformedMessage:
        raise
    except RecursionError as exc:  # thousands of nested arrays: refused, never a crash
        raise MalformedMessage("JSON nested too deeply") from exc
    except ValueError as exc:  # not JSON, not UTF-8
        raise MalformedMessage(f"not JSON: {exc}") from exc
    try:  # a lone surrogate (\ud800) decodes but can never be stored or re-encoded
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise MalformedMessage("text holds a lone UTF-16 surrogate") from exc
    return data


def encode(model: BaseModel) -> bytes:
    """Serialise a message as compact UTF-8 JSON."""
    return model.model_dump_json(exclude_none=False).encode()


def _load_json(raw: bytes) -> dict[str, object]:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise MalformedMessage(f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise MalformedMessage("payload is not a JSON object")
    version = data.get("v")
    if version != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"schema version {version!r} is not supported (want 1)")
    if b"\\u0000" in raw and _has_nul(data):  # the cheap test first: JSON escapes a NUL
        raise MalformedMessage("a text holds a NUL character (U+0000), which PostgreSQL "
                               "cannot store")
    return data


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _validate(model: type[M], raw: bytes) -> M:
    data = _load_json(raw)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MalformedMessage(_summarise(exc)) from exc


def _summarise(exc: ValidationError) -> str:
    errors = exc.errors()[:3]
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors]
    return "; ".join(parts)[:400]


def decode_manifest(raw: bytes) -> Manifest:
    return _validate(Manifest, raw)


def decode_command(raw: bytes) -> Command:
    return _validate(Command, raw)


def decode_release(raw: bytes) -> ReleaseManifest:
    return _validate(ReleaseManifest, raw)


def decode_status(raw: bytes) -> Status:
    return _validate(Status, raw)


def decode_event(raw: bytes) -> DeviceEvent:
    data = _load_json(raw)
    try:
        return DEVICE_EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise MalformedMessage(_summarise(exc)) from exc


def decode_telemetry(raw: bytes) -> HealthReport:
    """Fast path straight from JSON (reports are the bulk of the traffic); on any failure
    the general path gives the precise error (unsupported version, malformed...)."""
    if len(raw) <= MAX_PAYLOAD_BYTES:
        try:
            return HealthReport.model_validate_json(raw)
        except ValidationError:
            pass
    return _validate(HealthReport, raw)
