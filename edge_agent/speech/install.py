"""Install a Vosk model from a local folder or zip, validating it before it replaces the old."""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

from edge_agent.speech.errors import ModelUnavailable, SpeechError
from edge_agent.speech.model import load_model, validate_model_dir

log = logging.getLogger(__name__)


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
