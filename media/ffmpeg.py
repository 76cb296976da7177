"""Run ffmpeg as a subprocess: progress from ``-progress pipe:1``, stderr spooled to a file.

ffmpeg reads the input from its path and writes outputs to paths, so nothing large passes
through Python. stderr goes to a temporary file (ebur128 logs ten lines per second of audio)
and is read back line by line.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from media.errors import ProcessingFailed, ToolMissing

log = logging.getLogger(__name__)

FFMPEG = "ffmpeg"
INSTALL_HINT = "install it with 'apt-get install ffmpeg' (./run.sh test installs it)"
Progress = Callable[[float], None]
"""Called with the fraction (0..1) of the current step that is done."""

_ADDRESS_RE = re.compile(r"\[([\w.-]+) @ 0x[0-9a-f]+\]\s*")
_FRAME_LOG_RE = re.compile(r"\] t: [\d.]+ +TARGET:")


def find_ffmpeg(ffmpeg: str = FFMPEG) -> str:
    """The ffmpeg executable, or ToolMissing naming the install step."""
    found = shutil.which(ffmpeg)
    if found is None:
        raise ToolMissing(f"{ffmpeg} is not installed or not on PATH: {INSTALL_HINT}")
    return found


def run_ffmpeg(
    args: Sequence[str], *, duration_s: float | None = None, progress: Progress | None = None,
    ffmpeg: str = FFMPEG, what: str = "processing",
) -> list[str]:
    """Run ``ffmpeg <args>``; return its stderr lines (ebur128 frame lines dropped).

    Raises ProcessingFailed with ffmpeg's first error line when it exits non-zero.
    """
    exe = find_ffmpeg(ffmpeg)
    cmd = [exe, "-nostdin", "-hide_banner", "-nostats", "-progress", "pipe:1", *args]
    log.debug("ffmpeg: %s", " ".join(cmd))
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                    stdin=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise ToolMissing(f"{ffmpeg} is not installed or not on PATH: {INSTALL_HINT}") from exc
        with proc:
            try:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    if progress is not None and duration_s and raw.startswith(b"out_time_us="):
                        value = raw.split(b"=", 1)[1].strip()
                        if value.isdigit():
                            progress(min(1.0, int(value) / 1e6 / duration_s))
                code = proc.wait()
            except BaseException:
                proc.kill()
                raise
        err.seek(0)
        lines = list(_lines(err))
    if code != 0:
        raise ProcessingFailed(f"{what} failed: {first_error(lines)}")
    if progress is not None:
        progress(1.0)
    return lines


def _lines(fh: object) -> Iterator[str]:
    for raw in fh:  # type: ignore[attr-defined]
        line = raw.decode(errors="replace").rstrip()
        if line and not _FRAME_LOG_RE.search(line):
            yield line


def first_error(lines: Sequence[str]) -> str:
    """The most telling stderr line (an error line, else the last), without addresses."""
    chosen = next((ln for ln in lines if "rror" in ln or "Invalid" in ln), None)
    chosen = chosen or (lines[-1] if lines else "ffmpeg failed without a message")
    return _ADDRESS_RE.sub(r"\1: ", chosen.strip())[:300]


def remove_quietly(*paths: Path) -> None:
    """Delete files that may or may not exist (temporary outputs after a failure)."""
    for path in paths:
        path.unlink(missing_ok=True)
