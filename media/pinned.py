"""Fetch a file by path or URL and check its SHA-256 against a pinned list before anyone uses it.

Shared by the kiosk's speech model installer (``python -m edge_agent.speech install``) and the
center's voice installer (``python -m media install-voice``). A pinned list is a TOML file of
``[[file]]`` tables: ``name``, ``file`` (the archive's file name), ``size_bytes``, ``sha256``
(absent: "to be pinned by the deployer", so ``--sha256`` is required), ``language``, ``url``.
Downloads resume from a ``.part`` file and show progress on stderr.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote, urlparse

import httpx

from media.errors import MediaError

CHUNK = 1 << 20
HEX64 = re.compile(r"[0-9a-f]{64}")


class FetchFailed(MediaError):
    """The file could not be read or downloaded."""


class ChecksumMismatch(MediaError):
    """The file is not the one pinned (or given with ``--sha256``): it is never used."""


class NotPinned(MediaError):
    """No hash to check the file against: the caller must give one."""


@dataclass(frozen=True, slots=True)
class Pin:
    name: str
    file: str
    url: str
    language: str = ""
    size_bytes: int | None = None
    sha256: str | None = None  # None: to be pinned by the deployer


def load_pins(path: Path) -> dict[str, Pin]:
    """The pinned list at ``path``, by file name."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    pins = {}
    for entry in data.get("file", []):
        sha = entry.get("sha256") or None
        if sha is not None and not HEX64.fullmatch(sha):
            raise MediaError(f"{path}: {entry['name']}: sha256 must be 64 lowercase hex digits")
        pin = Pin(name=entry["name"], file=entry["file"], url=entry.get("url", ""),
                  language=entry.get("language", ""), size_bytes=entry.get("size_bytes"),
                  sha256=sha)
        pins[pin.file] = pin
    return pins


def file_name(source: str) -> str:
    """The file name a path or URL ends with."""
    if is_url(source):
        return unquote(Path(urlparse(source).path).name)
    return Path(source).name


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def expected_sha256(source: str, pins: dict[str, Pin], given: str | None) -> str:
    """The hash ``source`` must have: ``given``, else its pin; NotPinned when there is none."""
    if given is not None:
        given = given.strip().lower()
        if not HEX64.fullmatch(given):
            raise NotPinned(f"--sha256 {given!r} is not a SHA-256 (64 hexadecimal digits)")
        return given
    name = file_name(source)
    pin = pins.get(name)
    if pin is None:
        raise NotPinned(f"{name} is not in the pinned list: check where it comes from, then "
                        "give its hash with --sha256 <64 hex digits> (sha256sum <file>)")
    if pin.sha256 is None:
        raise NotPinned(f"{pin.name} has no pinned SHA-256 (to be pinned by the deployer): "
                        f"download it from {pin.url}, check it, then give its hash with "
                        "--sha256 <64 hex digits>")
    return pin.sha256


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str, *, what: str) -> None:
    """ChecksumMismatch (expected vs got, and what to do) unless ``path`` hashes to ``expected``."""
    got = sha256_of(path)
    if got != expected:
        raise ChecksumMismatch(
            f"{what}: SHA-256 mismatch: expected {expected}, got {got}; the file is damaged, "
            "incomplete or not the one pinned: nothing was installed; download it again from "
            "its published source, or give the right --sha256 if you checked this file")


def fetch(source: str, into: Path, *, progress: TextIO | None = sys.stderr,
          timeout_s: float = 60.0) -> Path:
    """A local copy of ``source``: the path itself, or a URL downloaded (resumed) into ``into``."""
    if not is_url(source):
        path = Path(source)
        if not path.is_file():
            raise FetchFailed(f"{source} does not exist or is not a file")
        return path
    into.mkdir(parents=True, exist_ok=True)
    target = into / (file_name(source) or "download")
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with httpx.stream("GET", source, headers=headers, timeout=timeout_s,
                          follow_redirects=True) as resp:
            if resp.status_code == 416:  # the part is already whole
                part.rename(target)
                return target
            resp.raise_for_status()
            if resp.status_code != 206:
                have = 0  # the server ignored the range: start again
            total = int(resp.headers.get("content-length", 0)) + have or None
            done, shown = have, -1
            with part.open("ab" if have else "wb") as out:
                for block in resp.iter_bytes(CHUNK):
                    out.write(block)
                    done += len(block)
                    step = 100 * done // total if total else done // (10 * CHUNK)
                    if step != shown:  # a line per percent (per 10 MB when the size is unknown)
                        shown = step
                        _show(progress, target.name, done, total)
    except httpx.HTTPError as exc:
        raise FetchFailed(f"downloading {source} failed ({exc}); run the same command again "
                          "to resume") from exc
    if progress is not None:
        progress.write("\n")
    part.rename(target)
    return target


def _show(progress: TextIO | None, name: str, done: int, total: int | None) -> None:
    if progress is None:
        return
    mb = done / 1e6
    share = f" / {total / 1e6:.1f} MB ({100 * done / total:.0f}%)" if total else " MB"
    progress.write(f"\r{name}: {mb:.1f}{share}")
    progress.flush()
