"""Install a Vosk model from a folder, a zip or a URL, validating it before it replaces the old.

An archive (by path or URL) is checked against its SHA-256 before it is extracted: the hash
given, else the one pinned in ``known_models.toml``; an archive with neither is refused.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TextIO

from edge_agent.speech.errors import ModelUnavailable, SpeechError
from edge_agent.speech.model import load_model, validate_model_dir
from media.errors import MediaError
from media.pinned import expected_sha256, fetch, is_url, load_pins, verify

log = logging.getLogger(__name__)

KNOWN_MODELS = Path(__file__).with_name("known_models.toml")
INSTALLED_FROM = "INSTALLED_FROM"
"""A file the installer writes in the model folder: the archive's SHA-256 and source."""


def _model_root(folder: Path) -> Path:
    """The folder itself, or its single sub-folder (zips usually hold ``vosk-model-.../``)."""
    if not validate_model_dir(folder):
        return folder
    children = [c for c in folder.iterdir() if c.is_dir()]
    if len(children) == 1 and not validate_model_dir(children[0]):
        return children[0]
    return folder


def _extract(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                target = (into / member.filename).resolve()
                if not target.is_relative_to(into.resolve()):
                    raise SpeechError(f"{archive}: refusing the unsafe path {member.filename!r}")
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise SpeechError(f"{archive} is not a zip file: {exc}") from exc


def install_model(source: Path, dest: Path, *, try_load: bool = True) -> Path:
    """Copy a model from ``source`` (folder or .zip) to ``dest``, atomically; return ``dest``.

    The model is checked (required files, then an actual load unless ``try_load`` is False)
    before anything at ``dest`` is touched; a bad model leaves the installed one in place.
    """
    if not source.exists():
        raise SpeechError(f"{source} does not exist")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".model-") as tmp:
        staging = Path(tmp) / "staging"
        if source.is_file():
            _extract(source, staging)
        else:
            shutil.copytree(source, staging)
        root = _model_root(staging)
        problems = validate_model_dir(root)
        if problems:
            raise ModelUnavailable(f"{source} is not a usable Vosk model: {'; '.join(problems)}")
        if try_load:
            load_model(root)
        old = Path(tmp) / "old"
        if dest.exists():
            dest.rename(old)
        root.rename(dest)
    log.info("speech model installed at %s from %s", dest, source)
    return dest


def install_archive(source: str, dest: Path, *, sha256: str | None = None,
                    try_load: bool = True, known: Path = KNOWN_MODELS,
                    progress: TextIO | None = sys.stderr) -> str:
    """Install the model archive at ``source`` (a path or an http(s) URL) to ``dest``.

    The archive's SHA-256 is checked (``sha256``, else the pinned one) before it is extracted;
    a folder is installed as it is. Returns the installed archive's SHA-256 ("" for a folder).
    """
    if not is_url(source) and Path(source).is_dir():
        install_model(Path(source), dest, try_load=try_load)
        return ""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        expected = expected_sha256(source, load_pins(known), sha256)
        archive = fetch(source, dest.parent / ".downloads", progress=progress)
        try:
            verify(archive, expected, what=source)
        except MediaError:
            _discard(archive, source)  # never kept, never resumed from
            raise
    except MediaError as exc:
        raise SpeechError(str(exc)) from exc
    try:
        install_model(archive, dest, try_load=try_load)
    finally:
        _discard(archive, source)
    (dest / INSTALLED_FROM).write_text(f"{expected}  {source}\n", encoding="utf-8")
    return expected


def _discard(archive: Path, source: str) -> None:
    """Delete a downloaded archive (and its folder once empty); a local file is left alone."""
    if not is_url(source):
        return
    archive.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        archive.parent.rmdir()


def installed_from(model: Path) -> tuple[str, str] | None:
    """The SHA-256 and source of the archive a model was installed from, if recorded."""
    try:
        digest, _, source = (model / INSTALLED_FROM).read_text(encoding="utf-8").strip() \
            .partition("  ")
    except OSError:
        return None
    return (digest, source) if digest and source else None


def installed_hash(model: Path) -> str | None:
    """The SHA-256 of the archive a model was installed from, when the installer recorded it."""
    recorded = installed_from(model)
    return recorded[0] if recorded else None

