"""Ed25519 envelopes: the center signs manifests and commands; agents verify them.

Envelope (JSON): {"v": 1, "alg": "ed25519", "kid": <key id>, "body": <JSON text>,
"sig": <base64 of the signature over the UTF-8 bytes of body>}. The body is carried
as text so the signed bytes are exactly the bytes verified (no canonical-JSON step).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel

from protocol.codec import MAX_PAYLOAD_BYTES, decode_command, decode_manifest, encode
from protocol.errors import MalformedMessage, SignatureInvalid, UnsupportedVersion
from protocol.manifest import Command, Manifest

ALGORITHM = "ed25519"


def public_key_b64(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key in standard base64 (what agent configs hold)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Parse a base64 raw public key; raise SignatureInvalid on a malformed key."""
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise SignatureInvalid(f"malformed public key: {exc}") from exc


def key_id(key: Ed25519PublicKey) -> str:
    """A short stable id for a public key (first 16 hex digits of its SHA-256)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a PEM (PKCS#8, unencrypted) Ed25519 private key."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureInvalid(f"{path} does not hold an Ed25519 private key")
    return key


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """The key as PEM (PKCS#8, unencrypted), as ``load_private_key`` reads it."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Signer:
    """Seals center -> device messages with the current key (``replace`` switches keys
    atomically for every holder of this signer: key rotation)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._current = (private_key, private_key.public_key(), key_id(private_key.public_key()))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._current[1]

    @property
    def key_id(self) -> str:
        return self._current[2]

    @property
    def current_private_key(self) -> Ed25519PrivateKey:
        return self._current[0]

    def replace(self, private_key: Ed25519PrivateKey) -> None:
        """Sign with ``private_key`` from now on."""
        self._current = (private_key, private_key.public_key(), key_id(private_key.public_key()))

    def seal(self, message: BaseModel) -> bytes:
        body = encode(message)
        key, _, kid = self._current  # one read: key and id always belong together
        signature = key.sign(body)
        envelope = {
            "v": 1,
            "alg": ALGORITHM,
            "kid": kid,
            "body": body.decode(),
            "sig": base64.b64encode(signature).decode(),
        }
        return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


class Verifier:
    """Opens envelopes signed by any of the trusted center keys (rotation: list several)."""

    def __init__(self, trusted: Mapping[str, Ed25519PublicKey] | list[Ed25519PublicKey]) -> None:
        if isinstance(trusted, list):
            trusted = {key_id(k): k for k in trusted}
        if not trusted:
            raise SignatureInvalid("no trusted center key configured")
        self._keys = dict(trusted)

    def trust(self, trusted: list[Ed25519PublicKey]) -> None:
        """Accept signatures by exactly these keys from now on (key rotation)."""
        if not trusted:
            raise SignatureInvalid("no trusted center key configured")
        self._keys = {key_id(k): k for k in trusted}

    @staticmethod
    def signer_of(raw: bytes) -> str:
        """The key id an envelope names (read it only after ``open`` verified the envelope)."""
        kid = json.loads(raw).get("kid")
        return kid if isinstance(kid, str) else ""

    def open(self, raw: bytes) -> bytes:
        """Return the verified body bytes, or raise a ProtocolError naming the problem."""
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise MalformedMessage(f"envelope of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        try:
            env = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, too deep or long
            raise MalformedMessage(f"envelope is not JSON: {exc}") from exc
        if not isinstance(env, dict):
            raise MalformedMessage("envelope is not a JSON object")
        if type(env.get("v")) is not int or env.get("v") != 1:  # not true, not 1.0
            raise UnsupportedVersion(f"envelope version {env.get('v')!r} is not supported")
        body, sig, kid = env.get("body"), env.get("sig"), env.get("kid")
        if not isinstance(body, str):
            raise MalformedMessage("envelope has no body")
        if env.get("alg") != ALGORITHM or not isinstance(sig, str) or not sig:
            raise SignatureInvalid("missing signature")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise SignatureInvalid(f"signed by unknown key {str(kid)[:20]!r}")
        try:
            key.verify(base64.b64decode(sig, validate=True), body.encode())
        except (InvalidSignature, binascii.Error, ValueError) as exc:
            raise SignatureInvalid("signature does not verify") from exc
        return body.encode()

    def open_manifest(self, raw: bytes) -> Manifest:
        return decode_manifest(self.open(raw))

    def open_command(self, raw: bytes) -> Command:
        return decode_command(self.open(raw))
