"""EBU R128 measurement with ffmpeg's ``ebur128`` filter (integrated, range, true peak, silence)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from media.encode import downmix
from media.ffmpeg import FFMPEG, Progress, run_ffmpeg

MIN_MEASURE_S = 3.0
"""Shorter clips are looped up to this length for the measurement (R128 gating needs it)."""

_VALUE_RE = re.compile(r"^\s*(I|Threshold|LRA|Peak):\s+(-?[\d.]+|-inf|inf|nan)\s")
_SILENCE_START_RE = re.compile(r"silence_start: (-?[\d.e+-]+)")
_SILENCE_END_RE = re.compile(r"silence_end: (-?[\d.e+-]+) \| silence_duration: ([\d.e+-]+)")


@dataclass(frozen=True, slots=True)
class Loudness:
    """An EBU R128 measurement: integrated loudness (LUFS), range (LU), true peak (dBTP)."""

    integrated: float
    threshold: float
    lra: float
    true_peak: float
    silent_s: float = 0.0


def measurement_filters(
    duration_s: float, *, channels: int = 1, silence_db: float | None = None,
    processing: str | None = None, true_peak: bool = True,
) -> str:
    """The analysis chain: mono downmix, ``processing``, silence detection, loop if short,
    ebur128."""
    parts = [downmix(channels)] + ([processing] if processing else [])
    if silence_db is not None:
        parts.append(f"silencedetect=n={silence_db}dB:d=0.5")
    if duration_s < MIN_MEASURE_S:
        parts.append(f"aloop=loop=-1:size=2147483647,atrim=duration={MIN_MEASURE_S + 0.2}")
    parts.append("ebur128=peak=true" if true_peak else "ebur128")
    return ",".join(parts)


def measure(
    path: Path, *, duration_s: float, channels: int = 1, silence_db: float | None = None,
    processing: str | None = None, true_peak: bool = True, progress: Progress | None = None,
    ffmpeg: str = FFMPEG,
) -> Loudness:
    """Measure ``path`` (first audio stream, downmixed to mono, then put through the
    ``processing`` filters if given) in one streaming ffmpeg pass."""
    chain = measurement_filters(duration_s, channels=channels, silence_db=silence_db,
                                processing=processing, true_peak=true_peak)
    args = ["-i", str(path), "-map", "0:a:0", "-vn", "-sn", "-dn", "-af", chain, "-f", "null", "-"]
    lines = run_ffmpeg(args, duration_s=duration_s, progress=progress, ffmpeg=ffmpeg,
                       what="measuring the loudness")
    loud = parse_summary(lines)
    if silence_db is None:
        return loud
    return Loudness(loud.integrated, loud.threshold, loud.lra, loud.true_peak,
                    silent_seconds(lines, duration_s))


def parse_summary(lines: Sequence[str]) -> Loudness:
    """Read ebur128's 'Summary:' block (the first Threshold is the integrated one; the true
    peak is NaN when it was not measured)."""
    values: dict[str, float] = {}
    in_summary = False
    for line in lines:
        if line.endswith("Summary:"):
            in_summary, values = True, {}
            continue
        match = _VALUE_RE.match(line) if in_summary else None
        if match and match.group(1) not in values:
            values[match.group(1)] = float(match.group(2))
    try:
        return Loudness(values["I"], values["Threshold"], values["LRA"],
                        values.get("Peak", math.nan))
    except KeyError as exc:
        raise ValueError(f"ebur128 printed no summary ({exc.args[0]} missing)") from exc


def silent_seconds(lines: Sequence[str], duration_s: float) -> float:
    """Total silence found by silencedetect; an open silence lasts to the end."""
    total, open_start = 0.0, None
    for line in lines:
        if (end := _SILENCE_END_RE.search(line)) is not None:
            total += float(end.group(2))
            open_start = None
        elif (start := _SILENCE_START_RE.search(line)) is not None:
            open_start = max(0.0, float(start.group(1)))
    if open_start is not None:
        total += max(0.0, duration_s - open_start)
    return min(total, duration_s)


def is_measurable(loud: Loudness) -> bool:
    """False when nothing passed the absolute gate (-70 LUFS): digital silence."""
    return math.isfinite(loud.integrated) and loud.integrated > -70.0
