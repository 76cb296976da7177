"""Real audio files for tests, made by ffmpeg."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path


def make_tone(path: Path, seconds: float, freq: int = 440) -> Path:
    """Write a mono 16 kHz WAV sine tone of the given length."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError(
            "ffmpeg not found: run ./run.sh test (installs it) or apt-get install ffmpeg"
        )
    subprocess.run(
        [
            ffmpeg,
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={freq}:duration={seconds}:sample_rate=16000",
            "-ac",
            "1",
            str(path),
        ],
        check=True,
    )
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
