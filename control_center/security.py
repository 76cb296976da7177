"""Secrets: files written 0600 from their creation, the center's signing key, Mosquitto
password hashes for devices, the API bearer token check and the value of the pages'
sign-in cookie."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from control_center.errors import ConfigError
from protocol.secret_files import write_secret_file
from protocol.signing import load_private_key, private_key_pem

log = logging.getLogger(__name__)

MOSQUITTO_ITERATIONS = 101
MOSQUITTO_SALT_BYTES = 12
_HASH_BYTES = 64  # PBKDF2-HMAC-SHA512 output length used by mosquitto_passwd


def missing_key_message(path: Path, devices: int) -> str:
    """What to do when the signing key is gone while devices still trust it."""
    return (f"the signing key {path} is missing, but {devices} device(s) are registered and "
            f"accept only manifests and commands signed with that key. Restore {path} from "
            f"your backup and start again. Only if the key is lost for good: start once with "
            f"'python -m control_center serve --new-signing-key' (or TT_NEW_SIGNING_KEY=1) to "
            f"create a new key, then re-provision every device with the new public key "
            f"('python -m control_center pubkey')")


def load_signing_key(path: Path, *, devices: int, create: bool = False) -> Ed25519PrivateKey:
    """The center's Ed25519 key from ``path``.

    A missing file is created (0600) only for a fresh center (``devices == 0``) or when asked
    explicitly (``create``); otherwise the start is refused, since every device would then
    refuse everything the center signs.
    """
    if path.exists():
        return load_private_key(path)
    if devices and not create:
        raise ConfigError(missing_key_message(path, devices))
    key = Ed25519PrivateKey.generate()
    write_secret_file(path, private_key_pem(key))
    if devices:
        log.warning("created a NEW signing key in %s: re-provision all %d device(s) with the "
                    "new public key", path, devices)
    else:
        log.info("created the signing key %s", path)
    return key


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
    """The credential in a sign-in cookie's value. Cookies set before officers became user
    accounts may carry ``.<officer id>.<signature>`` after it: ignored."""
    return value.partition(".")[0]
