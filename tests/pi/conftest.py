"""Fixtures of the Pi tests: ALSA pointed at its ``file`` plugin, so no sound card is needed."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

DEVICE = "tt_speaker"  # a named ALSA device, beside the default one


@dataclass(frozen=True)
class AlsaFiles:
    """Where ALSA writes what it is given: one WAV file per PCM device."""

    default: Path
    named: Path


def need(tool: str, package: str) -> str:
    """The tool's path; fail (not skip) naming the package when it is missing."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: apt-get install {package} (scripts/setup.sh)",
                    pytrace=False)
    return path


@pytest.fixture
def alsa_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AlsaFiles:
    """A HOME whose ~/.asoundrc sends the default device and ``tt_speaker`` to WAV files
    (the ``null`` slave accepts any rate, channel count and sample format)."""
    home = tmp_path / "home"
    home.mkdir()
    files = AlsaFiles(default=tmp_path / "default.wav", named=tmp_path / "named.wav")
    (home / ".asoundrc").write_text(
        f'pcm.!default {{ type file slave.pcm "null" file "{files.default}" format "wav" }}\n'
        f'pcm.{DEVICE} {{ type file slave.pcm "null" file "{files.named}" format "wav" }}\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("ALSA_CONFIG_PATH", raising=False)
    monkeypatch.delenv("SDL_AUDIODRIVER", raising=False)
    monkeypatch.delenv("AUDIODEV", raising=False)
    return files
