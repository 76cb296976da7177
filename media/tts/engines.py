"""Text-to-speech engines behind one small interface, chosen by configuration.

* ``EspeakEngine``: espeak-ng with its Vietnamese voice (offline, from Debian). The default.
* ``CommandEngine``: any program, from a command template such as
  ``piper --model vi.onnx --output_file {out}`` (text on stdin unless the template names
  ``{text_file}``). Set ``TT_TTS_COMMAND``.
* Any class, by ``TT_TTS_ENGINE=package.module:ClassName`` (built with no arguments, or by its
  ``from_env(environ)`` class method when it has one).
"""

from __future__ import annotations

import importlib
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from media.errors import MediaConfigError, SpeechFailed, ToolMissing

log = logging.getLogger(__name__)

TTS_TIMEOUT_S = 300.0


@runtime_checkable
class TtsEngine(Protocol):
    """Writes speech for already-normalised text to ``out`` (any format ffmpeg reads)."""

    name: str

    def synthesize(self, text: str, out: Path) -> None: ...


class EspeakEngine:
    """espeak-ng, Vietnamese by default (``vi``; also ``vi-vn-x-central``, ``vi-vn-x-south``)."""

    name = "espeak-ng"

    def __init__(self, *, voice: str = "vi", words_per_minute: int = 150,
                 executable: str = "espeak-ng") -> None:
        self.voice, self.wpm, self.executable = voice, words_per_minute, executable
        self._voice_checked = False

    def synthesize(self, text: str, out: Path) -> None:
        exe = shutil.which(self.executable)
        if exe is None:
            raise ToolMissing(f"{self.executable} is not installed: install it with "
                              "'apt-get install espeak-ng' (./run.sh test installs it)")
        if not self._voice_checked:
            self._check_voice(exe)
        cmd = [exe, "-v", self.voice, "-s", str(self.wpm), "-w", str(out), "--stdin"]
        _run(cmd, text, self.name)

    def _check_voice(self, exe: str) -> None:
        """espeak-ng silently falls back to English for an unknown voice: refuse it instead."""
        listing = subprocess.run([exe, "--voices"], capture_output=True, text=True,
                                 timeout=30, check=False).stdout.splitlines()[1:]
        known = {name.lower() for line in listing for name in line.split()[1:5:3]}
        if self.voice.lower() not in known:
            raise SpeechFailed(f"espeak-ng has no voice {self.voice!r} (TT_TTS_VOICE); "
                               "Vietnamese voices: vi, vi-vn-x-central, vi-vn-x-south")
        self._voice_checked = True


class CommandEngine:
    """A command template: ``{out}`` is the WAV to write, ``{text_file}`` a UTF-8 text file."""

    name = "command"

    def __init__(self, template: str) -> None:
        if "{out}" not in template:
            raise MediaConfigError(f"the TTS command {template!r} must contain {{out}}")
        self.template = template

    def synthesize(self, text: str, out: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="tts-") as tmp:
            text_file = Path(tmp) / "text.txt"
            text_file.write_text(text, encoding="utf-8")
            cmd = [part.format(out=out, text_file=text_file)
                   for part in shlex.split(self.template)]
            if shutil.which(cmd[0]) is None:
                raise ToolMissing(f"the TTS program {cmd[0]!r} (TT_TTS_COMMAND) is not installed")
            _run(cmd, None if "{text_file}" in self.template else text, cmd[0])


def _run(cmd: list[str], stdin_text: str | None, name: str) -> None:
    try:
        proc = subprocess.run(cmd, input=(stdin_text or "").encode(), capture_output=True,
                              timeout=TTS_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SpeechFailed(f"{name} gave no speech within {TTS_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        raise SpeechFailed(f"{name} failed ({proc.returncode}): {reason[-1] if reason else ''}")


def engine_from_env(environ: Mapping[str, str] = os.environ) -> TtsEngine:
    """``TT_TTS_COMMAND`` (a template), else ``TT_TTS_ENGINE`` (``espeak`` or ``module:Class``)."""
    command = environ.get("TT_TTS_COMMAND", "").strip()
    if command:
        return CommandEngine(command)
    spec = environ.get("TT_TTS_ENGINE", "espeak").strip() or "espeak"
    if spec in ("espeak", "espeak-ng"):
        return EspeakEngine(voice=environ.get("TT_TTS_VOICE", "vi") or "vi")
    return load_engine(spec, environ)


def load_engine(spec: str, environ: Mapping[str, str] = os.environ) -> TtsEngine:
    """Import ``package.module:ClassName`` and build it."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise MediaConfigError(f"TT_TTS_ENGINE={spec!r}: use 'espeak' or 'package.module:Class'")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise MediaConfigError(f"TT_TTS_ENGINE={spec!r} cannot be imported: {exc}") from exc
    factory = getattr(cls, "from_env", None)
    engine = factory(environ) if callable(factory) else cls()
    if not isinstance(engine, TtsEngine):
        raise MediaConfigError(f"{spec} has no name and synthesize(text, out) method")
    return engine
