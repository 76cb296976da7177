"""Secrets: Mosquitto password hashes for devices, the API bearer token check and the signed
value of the pages' sign-in cookie."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

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


def cookie_credential(value: str) -> str:
    """The credential in a sign-in cookie's value, without the officer signed onto it."""
    return value.partition(".")[0]


def _officer_signature(credential: str, officer_id: int, key: str) -> str:
    message = f"tt-officer-v2:{credential}:{officer_id}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class SignInCookie:
    """The value of a page sign-in cookie: ``<credential>``, or ``<credential>.<officer id>.
    <signature>`` once an officer is picked on the training pages.

    The credential is a session token or the pages' HMAC of the API token; the signature is an
    HMAC of credential and officer keyed with the API token, so the officer cannot be edited by
    hand nor moved to another sign-in, and changing the token drops it.
    """

    credential: str
    officer_id: int | None = None

    @classmethod
    def parse(cls, value: str, *, key: str) -> SignInCookie:
        """Read a cookie; an officer whose signature does not match is dropped."""
        credential, _, signed = value.partition(".")
        officer, _, signature = signed.partition(".")
        if officer.isascii() and officer.isdigit() and hmac.compare_digest(
                signature.encode(), _officer_signature(credential, int(officer), key).encode()):
            return cls(credential, int(officer))
        return cls(credential)

    def encode(self, *, key: str) -> str:
        if self.officer_id is None:
            return self.credential
        signature = _officer_signature(self.credential, self.officer_id, key)
        return f"{self.credential}.{self.officer_id}.{signature}"
