"""Install a Piper voice (``.onnx`` + ``.onnx.json``) by path or URL, checked before use.

Each file's SHA-256 is checked (``--sha256``/``--config-sha256``, else the pinned one in
``known_voices.toml``) and the config read as Piper's JSON before either file lands in the
voices folder; a refused voice leaves what is there untouched. The center then speaks with it
through ``TT_TTS_COMMAND`` (printed by the installer); espeak-ng stays the default.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from media.errors import MediaConfigError
from media.pinned import Pin, expected_sha256, fetch, file_name, load_pins, verify

log = logging.getLogger(__name__)

KNOWN_VOICES = Path(__file__).with_name("known_voices.toml")
CHECKSUMS = "SHA256SUMS"
"""Written in the voices folder: the SHA-256 of every file installed there."""


@dataclass(frozen=True, slots=True)
class InstalledVoice:
    model: Path
    config: Path
    sha256: str
    config_sha256: str

    @property
    def command(self) -> str:
        """The ``TT_TTS_COMMAND`` that speaks with this voice."""
        return f"piper --model {self.model} --output_file {{out}}"


def install_voice(source: str, dest: Path, *, sha256: str | None = None,
                  config: str | None = None, config_sha256: str | None = None,
                  known: Path = KNOWN_VOICES,
                  progress: TextIO | None = sys.stderr) -> InstalledVoice:
    """Fetch, verify and install the voice at ``source`` (its config: ``source`` + ``.json``)."""
    config = config or f"{source}.json"
    if not file_name(source).endswith(".onnx"):
        raise MediaConfigError(f"{source}: a Piper voice is an .onnx file (with its .onnx.json)")
    pins: dict[str, Pin] = load_pins(known)
    want_model = expected_sha256(source, pins, sha256)
    want_config = expected_sha256(config, pins, config_sha256)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".voice-") as tmp:
        model = fetch(source, Path(tmp), progress=progress)
        conf = fetch(config, Path(tmp), progress=progress)
        verify(model, want_model, what=source)
        verify(conf, want_config, what=config)
        _check_config(conf)
        target = dest / file_name(source)
        target_conf = target.with_name(target.name + ".json")
        for src, dst in ((conf, target_conf), (model, target)):
            staged = Path(tmp) / f"staged-{dst.name}"
            staged.write_bytes(src.read_bytes())
            staged.replace(dst)  # atomic within the folder
    _record(dest, {target.name: want_model, target_conf.name: want_config})
    log.info("piper voice installed at %s from %s", target, source)
    return InstalledVoice(target, target_conf, want_model, want_config)


def _check_config(path: Path) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rate = data["audio"]["sample_rate"]
    except (ValueError, KeyError, TypeError) as exc:
        raise MediaConfigError(f"{path.name} is not a Piper voice config (JSON with "
                               f"audio.sample_rate): {exc}") from exc
    if not isinstance(rate, int) or rate <= 0:
        raise MediaConfigError(f"{path.name}: audio.sample_rate must be a positive integer")


def _record(dest: Path, digests: dict[str, str]) -> None:
    sums = dest / CHECKSUMS
    lines = {}
    if sums.exists():
        for line in sums.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            if name:
                lines[name] = digest
    lines.update(digests)
    sums.write_text("".join(f"{d}  {n}\n" for n, d in sorted(lines.items())), encoding="utf-8")
