"""One file fetched over HTTP into place: a partial file is resumed with a Range request,
the whole is verified by size and SHA-256 before it is renamed to its final name, and a file
that does not verify is deleted. The media cache and agent updates download this way."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

_BLOCK = 1 << 20


class FetchFailed(Exception):
    """The download failed or did not verify; the message says which."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """How a download goes: chunk size, bandwidth cap (bytes/s, 0 = none), cancellation."""

    chunk_bytes: int = 64 * 1024
    rate_limit_bps: int = 0
    cancel: threading.Event | None = None


def hash_into(path: Path, digest: hashlib._Hash) -> None:
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)


def fetch_verified(http: httpx.Client, url: str, final: Path, *, size: int, sha256: str,
                   transfer: Transfer) -> int:
    """Download ``url`` to ``final`` through ``<final>.part``; the offset it resumed from."""
    part = final.with_name(final.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    if offset > size:
        part.unlink()
        offset = 0
    digest = hashlib.sha256()
    if offset:
        hash_into(part, digest)
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    resumed_from = 0
    try:
        with http.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 416 and offset == size:
                pass  # the partial file is already whole
            elif resp.status_code == 206 and offset:
                resumed_from = offset
                _write(resp, part, "ab", digest, transfer)
            elif resp.status_code == 200:
                digest = hashlib.sha256()
                _write(resp, part, "wb", digest, transfer)
            else:
                raise FetchFailed(f"HTTP {resp.status_code} for {url}")
    except httpx.HTTPError as exc:
        raise FetchFailed(f"download failed: {exc} (the partial file is kept for the next "
                          "try)") from exc
    got = part.stat().st_size
    if got != size or digest.hexdigest() != sha256:
        part.unlink(missing_ok=True)
        raise FetchFailed(f"verification failed: got {got} bytes with SHA-256 "
                          f"{digest.hexdigest()[:12]}, expected {size} bytes with "
                          f"{sha256[:12]}; the file was deleted")
    os.replace(part, final)
    return resumed_from


def _write(resp: httpx.Response, part: Path, mode: str, digest: hashlib._Hash,
           transfer: Transfer) -> None:
    """Append the body to ``part`` (each chunk flushed, so a power cut keeps what arrived)."""
    rate, cancel = transfer.rate_limit_bps, transfer.cancel
    started = time.monotonic()
    written = 0
    with part.open(mode) as fh:
        for chunk in resp.iter_bytes(transfer.chunk_bytes):
            if cancel is not None and cancel.is_set():
                raise FetchFailed("download cancelled: the agent is stopping")
            fh.write(chunk)
            fh.flush()
            digest.update(chunk)
            written += len(chunk)
            if rate:
                ahead = written / rate - (time.monotonic() - started)
                if ahead > 0 and cancel is not None and cancel.wait(ahead):
                    raise FetchFailed("download cancelled: the agent is stopping")
        os.fsync(fh.fileno())
