"""Secrets: Mosquitto password hashes for devices and the API bearer token check."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

MOSQUITTO_ITERATIONS = 101
MOSQUITTO_SALT_BYTES = 12
_HASH_BYTES = 64  # PBKDF2-HMAC-SHA512 output length used by mosquitto_passwd


def generate_password() -> str:
    """A random broker password for a new device (shown once, stored only as a hash)."""
    return secrets.token_urlsafe(24)


def mosquitto_hash(password: str, *, salt: bytes | None = None,
                   iterations: int = MOSQUITTO_ITERATIONS) -> str:
    """Hash ``password`` the way ``mosquitto_passwd`` (2.x) does: ``$7$<it>$<salt>$<hash>``.

    PBKDF2-HMAC-SHA512 over the raw salt bytes; salt and hash in standard base64 with padding.
    """
    salt = secrets.token_bytes(MOSQUITTO_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)
    salt_b64, hash_b64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"$7${iterations}${salt_b64}${hash_b64}"


def verify_mosquitto_hash(password: str, encoded: str) -> bool:
    """True when ``password`` matches a ``$7$`` hash."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7":
        return False
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except (ValueError, binascii.Error):
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(expected))
    return hmac.compare_digest(digest, expected)


def token_matches(presented: str, expected: str) -> bool:
    """Constant-time comparison of bearer tokens."""
    return hmac.compare_digest(presented.encode(), expected.encode())
