"""Per-device tokens of a live stream: derived from the stream's secret, never stored.

A device learns its token only from its own signed manifest or command (its topics are
readable by it alone), so a stranger, another device or a device that is no longer targeted
cannot pull the stream; a new stream has a new secret, so old tokens open nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_secret() -> str:
    """A fresh stream secret (64 hex digits)."""
    return secrets.token_hex(32)


def new_stream_id() -> str:
    """A stream id: 32 hex digits, unguessable (it names the stream's directory too)."""
    return secrets.token_hex(16)


def device_token(secret: str, device_id: str) -> str:
    """The token ``device_id`` presents for the stream whose secret is ``secret``."""
    mac = hmac.new(secret.encode(), f"live-token|{device_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:24]).decode().rstrip("=")


def token_matches(secret: str, device_id: str, token: str) -> bool:
    """Whether ``token`` is ``device_id``'s token for this stream (constant time)."""
    return hmac.compare_digest(device_token(secret, device_id), token)
