"""Fetching a release: its signed manifest, then each wheel with resume and verification.

The release manifest must hash to the SHA-256 the (signed) command names and carry a valid
center signature; each file is downloaded into ``<data_dir>/updates/<version>/<name>.part``
(resumed with an HTTP Range after a cut), checked for size and SHA-256, and only then renamed
to its name. A file that does not verify is deleted and the update fails with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

import httpx

from edge_agent.resumable import FetchFailed, Transfer, fetch_verified, hash_into
from edge_agent.update.errors import UpdateError
from protocol.codec import MAX_PAYLOAD_BYTES, decode_release
from protocol.errors import ProtocolError
from protocol.manifest import ReleaseRef
from protocol.release import ReleaseFile, ReleaseManifest
from protocol.signing import Verifier


@dataclass(frozen=True, slots=True)
class Downloaded:
    path: Path
    size: int
    resumed_from: int


def fetch_release(http: httpx.Client, ref: ReleaseRef, verifier: Verifier) -> ReleaseManifest:
    """The release manifest ``ref`` names, checked against its SHA-256 and the center's keys."""
    raw = bytearray()
    try:
        with http.stream("GET", ref.manifest_url) as resp:
            if resp.status_code != 200:
                raise UpdateError(f"release manifest: HTTP {resp.status_code} from "
                                  f"{ref.manifest_url}")
            for chunk in resp.iter_bytes():
                raw += chunk
                if len(raw) > MAX_PAYLOAD_BYTES:
                    raise UpdateError(f"release manifest larger than {MAX_PAYLOAD_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise UpdateError(f"release manifest unreachable: {exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != ref.manifest_sha256:
        raise UpdateError(f"release manifest has SHA-256 {digest[:12]}, the command names "
                          f"{ref.manifest_sha256[:12]}: refused")
    try:
        release = decode_release(verifier.open(bytes(raw)))
    except ProtocolError as exc:
        raise UpdateError(f"release manifest refused: {type(exc).__name__}: {exc}") from exc
    if release.version != ref.version:
        raise UpdateError(f"release manifest is for version {release.version}, the command "
                          f"names {ref.version}")
    return release


def fetch_file(http: httpx.Client, url: str, file: ReleaseFile, folder: Path,
               transfer: Transfer) -> Downloaded:
    """Download ``file`` into ``folder`` (resuming a partial download) and verify it."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / file.name
    if final.exists():
        if final.stat().st_size == file.size and _sha256_of(final) == file.sha256:
            return Downloaded(final, file.size, file.size)
        final.unlink()
    try:
        resumed_from = fetch_verified(http, url, final, size=file.size, sha256=file.sha256,
                                      transfer=transfer)
    except FetchFailed as exc:
        raise UpdateError(f"{file.name}: {exc}") from exc
    return Downloaded(final, file.size, resumed_from)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    hash_into(path, digest)
    return digest.hexdigest()


def discard(folder: Path) -> None:
    """Remove a version's download folder (after install, or when its files are useless)."""
    if folder.is_dir():
        for entry in folder.iterdir():
            with contextlib.suppress(OSError):
                entry.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()
