"""Fetching a release: its signed manifest, then each wheel with resume and verification.

The release manifest must hash to the SHA-256 the (signed) command names and carry a valid
center signature; each file is downloaded into ``<data_dir>/updates/<version>/<name>.part``
(resumed with an HTTP Range after a cut), checked for size and SHA-256, and only then renamed
to its name. A file that does not verify is deleted and the update fails with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from edge_agent.update.errors import UpdateError
from protocol.codec import MAX_PAYLOAD_BYTES, decode_release
from protocol.errors import ProtocolError
from protocol.manifest import ReleaseRef
from protocol.release import ReleaseFile, ReleaseManifest
from protocol.signing import Verifier

_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class Transfer:
    """How a download goes: chunk size, bandwidth cap (bytes/s, 0 = none), cancellation."""

    chunk_bytes: int = 64 * 1024
    rate_limit_bps: int = 0
    cancel: threading.Event | None = None


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
    part = folder / f"{file.name}.part"
    offset = part.stat().st_size if part.exists() else 0
    if offset > file.size:
        part.unlink()
        offset = 0
    digest = hashlib.sha256()
    if offset:
        _hash_into(part, digest)
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    resumed_from = 0
    try:
        with http.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 416 and offset == file.size:
                pass  # the partial file is already whole
            elif resp.status_code == 206 and offset:
                resumed_from = offset
                _write(resp, part, "ab", digest, transfer)
            elif resp.status_code == 200:
                digest = hashlib.sha256()
                _write(resp, part, "wb", digest, transfer)
            else:
                raise UpdateError(f"{file.name}: HTTP {resp.status_code} from {url}")
    except httpx.HTTPError as exc:
        raise UpdateError(f"{file.name}: download failed: {exc} (the partial file is kept "
                          "for the next try)") from exc
    size = part.stat().st_size
    if size != file.size or digest.hexdigest() != file.sha256:
        part.unlink(missing_ok=True)
        raise UpdateError(f"{file.name}: verification failed: got {size} bytes with SHA-256 "
                          f"{digest.hexdigest()[:12]}, the release says {file.size} bytes with "
                          f"{file.sha256[:12]}; the file was deleted")
    os.replace(part, final)
    return Downloaded(final, size, resumed_from)


def _write(resp: httpx.Response, part: Path, mode: str, digest: hashlib._Hash,
           transfer: Transfer) -> None:
    rate, cancel = transfer.rate_limit_bps, transfer.cancel
    started = time.monotonic()
    written = 0
    with part.open(mode) as fh:
        for chunk in resp.iter_bytes(transfer.chunk_bytes):
            if cancel is not None and cancel.is_set():
                raise UpdateError("download cancelled: the agent is stopping")
            fh.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            if rate:
                ahead = written / rate - (time.monotonic() - started)
                if ahead > 0 and cancel is not None and cancel.wait(ahead):
                    raise UpdateError("download cancelled: the agent is stopping")
        fh.flush()
        os.fsync(fh.fileno())


def _hash_into(path: Path, digest: hashlib._Hash) -> None:
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    _hash_into(path, digest)
    return digest.hexdigest()


def discard(folder: Path) -> None:
    """Remove a version's download folder (after install, or when its files are useless)."""
    if folder.is_dir():
        for entry in folder.iterdir():
            with contextlib.suppress(OSError):
                entry.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()
