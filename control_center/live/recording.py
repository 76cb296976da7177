"""The recording of a live session: every run's segments joined into one Ogg/Opus file.

Each run directory holds ``init.mp4`` and ``seg<seq>.m4s``: the init segment followed by its
segments, in order, is one playable fragmented MP4. The runs are joined by ffmpeg's concat
filter and encoded once to Ogg/Opus (mono, 32 kbps), the file kept as the session's record.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from control_center.live.segmenter import INIT_NAME

RECORDING_BITRATE = 32_000
FFMPEG_TIMEOUT_S = 600.0


def run_directories(stream_root: Path) -> list[Path]:
    """The runs of one stream that hold an init segment and at least one segment, in order."""
    if not stream_root.is_dir():
        return []
    runs = sorted((p for p in stream_root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return [p for p in runs if (p / INIT_NAME).exists() and any(p.glob("seg*.m4s"))]


def _joined_run(run: Path, out: Path) -> Path:
    """``run``'s init segment and its segments, in order, as one fragmented MP4 file."""
    with out.open("wb") as fh:
        for part in [run / INIT_NAME, *sorted(run.glob("seg*.m4s"))]:
            with part.open("rb") as src:
                shutil.copyfileobj(src, fh)
    return out


def make_recording(stream_root: Path, work_dir: Path, *, ffmpeg: str = "ffmpeg") -> Path | None:
    """One Ogg/Opus file of every run of the stream under ``stream_root`` (None: no audio
    came). Raises RuntimeError with ffmpeg's complaint when it fails."""
    runs = run_directories(stream_root)
    if not runs:
        return None
    work_dir.mkdir(parents=True, exist_ok=True)
    inputs: list[str] = []
    for i, run in enumerate(runs):
        inputs += ["-i", str(_joined_run(run, work_dir / f"run{i}.mp4"))]
    joined = "".join(f"[{i}:a]" for i in range(len(runs))) + f"concat=n={len(runs)}:v=0:a=1[a]"
    out = work_dir / "recording.ogg"
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *inputs,
           "-filter_complex", joined, "-map", "[a]", "-ac", "1", "-c:a", "libopus",
           "-b:a", str(RECORDING_BITRATE), "-f", "ogg", str(out)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"ffmpeg could not run: {exc}") from exc
    if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(done.stderr.decode(errors="replace").strip()[-300:] or
                           f"ffmpeg exited with {done.returncode}")
    return out
