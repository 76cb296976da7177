"""Turn any upload into delivery renditions: validate, measure, normalise, encode, re-measure.

Pass one measures the mono downmix (ebur128: integrated loudness, true peak, silence). Pass two
applies the gain that reaches the target (loudnorm's linear mode, computed here) and, when the
gained true peak would pass the limit minus headroom, a limiter. Lossy encoding raises the true
peak, so every encoded file is measured; a file over the limit is re-encoded with more headroom.
Files are written under temporary names and renamed to their SHA-256 only when they pass.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from media.config import PipelineConfig
from media.encode import Format, Gain, encode, mp3, opus
from media.errors import ProcessingFailed, SilentMedia, TooLong
from media.ffmpeg import Progress, remove_quietly
from media.loudness import Loudness, is_measurable, measure
from media.probe import AudioInfo, probe_audio

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Rendition:
    """One encoded file, stored as ``<out_dir>/<sha256>``."""

    format: str
    path: Path
    sha256: str
    size: int
    mime: str
    codec: str
    bitrate: int
    duration_ms: int
    loudness: Loudness


@dataclass(frozen=True, slots=True)
class ProcessResult:
    source: AudioInfo
    source_loudness: Loudness
    gain: Gain
    renditions: tuple[Rendition, ...]
    waveform: Path | None

    @property
    def delivery(self) -> Rendition:
        """The rendition manifests reference (Opus in Ogg)."""
        return self.renditions[0]


def validate(path: Path, config: PipelineConfig) -> AudioInfo:
    """Probe ``path`` and refuse non-audio, corrupt, empty and over-long files."""
    info = probe_audio(path)
    if info.duration_ms > config.max_seconds * 1000:
        raise TooLong(
            f"the audio lasts {_clock(info.duration_ms / 1000)}, longer than the limit of "
            f"{_clock(config.max_seconds)} (TT_MEDIA_MAX_SECONDS): split it into shorter bulletins"
        )
    return info


def check_not_silent(loud: Loudness, info: AudioInfo, config: PipelineConfig) -> None:
    duration_s = info.duration_ms / 1000
    fraction = loud.silent_s / duration_s if duration_s else 1.0
    if not is_measurable(loud) or fraction >= config.silent_fraction:
        raise SilentMedia(
            f"the audio is silent (below {config.silence_db:.0f} dBFS) for {fraction:.0%} of "
            f"its {duration_s:.1f} s: check the recording, the microphone or the volume"
        )


def process(
    source: Path, out_dir: Path, *, config: PipelineConfig | None = None,
    waveform: Path | None = None, progress: Progress | None = None,
) -> ProcessResult:
    """Run the whole pipeline on ``source``; renditions land in ``out_dir`` named by SHA-256.

    Raises a MediaError subclass; on any failure nothing is left in ``out_dir``.
    """
    config = config or PipelineConfig()
    report = progress or (lambda _f: None)
    info = validate(source, config)
    duration_s = info.duration_ms / 1000
    loud = measure(source, duration_s=duration_s, channels=info.channels,
                   silence_db=config.silence_db,
                   progress=_span(report, 0.0, 0.3))
    check_not_silent(loud, info, config)
    formats = [opus(config.opus_bitrate_k)] + ([mp3(config.mp3_bitrate_k)]
                                               if config.mp3_fallback else [])
    out_dir.mkdir(parents=True, exist_ok=True)
    gain = calibrate(source, info, first_gain(loud, config), config,
                     progress=_span(report, 0.3, 0.4))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        temps = [(fmt, _temp_path(out_dir, fmt.suffix)) for fmt in formats]
        wave_tmp = _temp_path(waveform.parent, ".png") if waveform else None
        try:
            encode(source, temps, gain=gain, duration_s=duration_s, channels=info.channels,
                   waveform=(wave_tmp, config.waveform_size) if wave_tmp else None,
                   progress=_span(report, 0.4, 0.85))
            measured = [measure(path, duration_s=duration_s, progress=_span(report, 0.85, 1.0))
                        for _, path in temps]
            better = next_gain(gain, measured[0], max(m.true_peak for m in measured), config)
            if better is None or attempt == MAX_ATTEMPTS:
                if better is not None:
                    raise ProcessingFailed(
                        f"could not bring the audio within {config.true_peak_db} dBTP and "
                        f"{config.target_lufs} LUFS ±1 LU after {attempt} attempts")
                renditions = tuple(_finish(fmt, tmp, out_dir, m, info.duration_ms)
                                   for (fmt, tmp), m in zip(temps, measured, strict=True))
                if waveform is not None and wave_tmp is not None:
                    os.replace(wave_tmp, waveform)
                log.info("media: %s -> %s (gain %.1f dB, limiter %s, %.1f LUFS, %.1f dBTP)",
                         source.name, renditions[0].sha256[:12], gain.gain_db, gain.limit_db,
                         measured[0].integrated, measured[0].true_peak)
                return ProcessResult(info, loud, gain, renditions, waveform)
            log.info("media: attempt %d of %s missed the target; retrying with %s",
                     attempt, source.name, better)
            gain = better
        finally:
            remove_quietly(*(tmp for _, tmp in temps), *([wave_tmp] if wave_tmp else []))
    raise AssertionError("unreachable")


def first_gain(loud: Loudness, config: PipelineConfig) -> Gain:
    """Linear gain to the target; a limiter when the gained true peak passes limit - headroom."""
    gain_db = config.target_lufs - loud.integrated
    ceiling = config.true_peak_db - config.headroom_db
    return Gain(gain_db, ceiling if loud.true_peak + gain_db > ceiling else None)


LIMITED_SLOPE = 0.6
"""LU gained per dB of gain when the limiter works hard on speech (measured: 0.5-0.7)."""


def calibrate(
    source: Path, info: AudioInfo, gain: Gain, config: PipelineConfig, *,
    progress: Progress | None = None,
) -> Gain:
    """With a limiter, measure the limited PCM once (cheap: no encoding, no true peak, native
    rate) and correct the gain for the loudness the limiter takes away. The encoded files
    are measured anyway, so a second calibration pass would only duplicate that check."""
    if gain.limit_db is None:
        return gain
    loud = measure(source, duration_s=info.duration_ms / 1000, channels=info.channels,
                   processing=gain.filters(), true_peak=False, progress=progress)
    error = config.target_lufs - loud.integrated
    if abs(error) <= 0.25:
        return gain
    return Gain(gain.gain_db + error / LIMITED_SLOPE, gain.limit_db)


def next_gain(
    gain: Gain, delivered: Loudness, worst_peak: float, config: PipelineConfig
) -> Gain | None:
    """None when the encoded files meet the targets; else a corrected gain for another attempt."""
    loud_error = config.target_lufs - delivered.integrated
    peak_excess = worst_peak - config.true_peak_db
    if abs(loud_error) <= 0.5 and peak_excess <= 0:
        return None
    headroom_ceiling = config.true_peak_db - config.headroom_db
    if gain.limit_db is None and worst_peak + loud_error <= headroom_ceiling:
        return Gain(gain.gain_db + loud_error, None)  # still no limiter needed
    ceiling = headroom_ceiling if gain.limit_db is None else gain.limit_db
    if peak_excess > 0:
        ceiling -= peak_excess + 0.5
    slope = 1.0 if gain.limit_db is None else LIMITED_SLOPE
    return Gain(gain.gain_db + loud_error / slope, ceiling)


def _finish(fmt: Format, tmp: Path, out_dir: Path, loud: Loudness, duration_ms: int) -> Rendition:
    """Hash the checked temp file and rename it to ``<out_dir>/<sha256>``.

    The duration is the source's: the filters neither trim nor pad (decoders drop the
    encoder's pre-skip, which ffprobe counts in an Ogg/Opus file's duration).
    """
    digest, size = _sha256(tmp)
    final = out_dir / digest
    os.replace(tmp, final)
    return Rendition(fmt.name, final, digest, size, fmt.mime, fmt.codec, fmt.bitrate_k * 1000,
                     duration_ms, loud)


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _temp_path(directory: Path, suffix: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".part-", suffix=suffix)
    os.close(fd)
    return Path(name)


def _span(report: Callable[[float], None], start: float, end: float) -> Progress:
    return lambda f: report(start + (end - start) * f)


def _clock(seconds: float) -> str:
    """"4.5 s", "12:05" or "1:02:03"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes >= 60:
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
