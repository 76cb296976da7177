"""What both sides assume of their MQTT 5 session with the broker (docs/protocol.md, Sessions)."""

from __future__ import annotations

BAD_CREDENTIALS = frozenset({0x86, 0x87})
"""CONNACK reason codes that retrying cannot fix: Bad user name or password (0x86, 134) and
Not authorized (0x87, 135). The agent and the center stop reconnecting on either."""
