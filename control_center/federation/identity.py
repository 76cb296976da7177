"""A center's identity: its name among centers and an Ed25519 key of its own, separate from
the key that signs what devices receive (losing or rotating one does not touch the other)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.secret_files import write_secret_file
from protocol.signing import Signer, load_private_key, private_key_pem, public_key_b64


@dataclass(frozen=True, slots=True)
class Identity:
    center_id: str
    signer: Signer

    @property
    def public_key(self) -> str:
        """The raw public key in base64, as another center registers it."""
        return public_key_b64(self.signer.public_key)

    @property
    def key_id(self) -> str:
        return self.signer.key_id


def load_identity(path: Path, center_id: str | None) -> Identity:
    """The identity key at ``path`` (made, 0600, on first use) and the center's id (default:
    ``center-`` and the key id's first 8 digits)."""
    if path.exists():
        key = load_private_key(path)
    else:
        key = Ed25519PrivateKey.generate()
        write_secret_file(path, private_key_pem(key))
    signer = Signer(key)
    return Identity(center_id or f"center-{signer.key_id[:8]}", signer)
