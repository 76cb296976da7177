"""Fixtures of the media suite: real ffmpeg and espeak-ng, short generated clips."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL = "run ./run.sh test (it installs them) or apt-get install ffmpeg espeak-ng"


@pytest.fixture(scope="session", autouse=True)
def _tools() -> None:
    """Fail (not skip) when a tool is missing, naming the install step."""
    missing = [t for t in ("ffmpeg", "ffprobe", "espeak-ng") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: {INSTALL}")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


@dataclass(frozen=True)
class Measured:
    integrated: float
    true_peak: float


def ebur128(path: Path) -> Measured:
    """Measure a file with ffmpeg's ebur128 filter (independently of media.loudness)."""
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", str(path), "-af",
         "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True, check=True,
        timeout=60)
    summary = proc.stderr[proc.stderr.rindex("Summary:"):]
    integrated = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated and peak, summary
    return Measured(float(integrated.group(1)), float(peak.group(1)))


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 4 s of real Vietnamese speech from espeak-ng (22.05 kHz mono WAV)."""
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(path),
                    "Xin chào bà con, đây là bản tin của xã, mời bà con lắng nghe."],
                   check=True, timeout=60)
    return path
