"""API keys of outside systems (Open311 client applications, CAP alert senders): made by
administrators, shown once, stored as a SHA-256, revocable.

A key reads ``<start><prefix>_<secret>``: ``start`` names the kind of key (``tt311_``,
``ttcap_``), the prefix (8 hex digits, not secret) finds the key's row, the secret is 32 random
bytes (256 bits, URL-safe base64). A key of such entropy needs no slow hash: SHA-256 of the
whole key is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

SECRET_BYTES = 32


def key_digest(key: str) -> str:
    """What is stored of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(start: str, *, taken: Callable[[str], bool]) -> tuple[str, str]:
    """A fresh (prefix, key); ``taken`` says whether a prefix is already used."""
    prefix = secrets.token_hex(4)
    while taken(prefix):
        prefix = secrets.token_hex(4)
    return prefix, f"{start}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"


def key_prefix(key: str, start: str) -> str | None:
    """The row-finding prefix of a key of kind ``start`` (None: not such a key)."""
    parts = key.split("_") if key.startswith(start) else []
    return parts[1] if len(parts) >= 3 else None


def key_matches(stored_sha256: str, key: str) -> bool:
    """Whether ``key`` is the one whose digest was stored (constant time)."""
    return hmac.compare_digest(stored_sha256, key_digest(key))
