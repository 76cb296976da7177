"""Topic layout of protocol v1 (see docs/protocol.md for QoS and retain per topic)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from protocol.errors import TopicError

PREFIX = "tt/v1"
DEVICE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
RESERVED_IDS = frozenset({"center", "control-center", "admin"})  # broker users of the center


class Channel(StrEnum):
    """The last topic level: what kind of message travels on it."""

    MANIFEST = "manifest"  # center -> device, retained, QoS 1, signed
    CMD = "cmd"  # center -> device, QoS 1, signed, one-shot
    STATUS = "status"  # device -> center, retained birth; the will sets it offline
    EVENT = "event"  # device -> center, QoS 1, de-duplicated by event_id
    TELEMETRY = "telemetry"  # device -> center, QoS 1 health samples


def validate_device_id(device_id: str) -> str:
    """Return the id if it is usable as one topic level and broker user name."""
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise TopicError(
            f"invalid device id {device_id!r}: use 1-63 lower-case letters, digits, '-' or '_'"
        )
    if device_id in RESERVED_IDS:
        raise TopicError(f"device id {device_id!r} is reserved for the control center")
    return device_id


def device_topic(device_id: str, channel: Channel) -> str:
    """The topic of one channel of one device."""
    return f"{PREFIX}/dev/{validate_device_id(device_id)}/{channel.value}"


def fleet_subscription(channel: Channel) -> str:
    """The wildcard the center subscribes to for one channel of every device."""
    return f"{PREFIX}/dev/+/{channel.value}"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    device_id: str
    channel: Channel


def parse_topic(topic: str) -> ParsedTopic:
    """Split a v1 device topic into device id and channel."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != PREFIX or parts[2] != "dev":
        raise TopicError(f"not a v1 device topic: {topic[:120]!r}")
    try:
        channel = Channel(parts[4])
    except ValueError as exc:
        raise TopicError(f"unknown channel {parts[4][:40]!r}") from exc
    return ParsedTopic(validate_device_id(parts[3]), channel)
