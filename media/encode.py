"""The normalise-and-encode pass: gain (and a peak limiter when needed), mono, resample, encode.

One ffmpeg run reads the source once and writes every rendition (Opus in Ogg for delivery,
optionally an MP3 fallback) and the waveform picture, so decoding and filtering happen once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from media.ffmpeg import FFMPEG, Progress, run_ffmpeg

SAMPLE_RATE = 48_000
WAVEFORM_COLOUR = "#1f6feb"


@dataclass(frozen=True, slots=True)
class Format:
    """An output format: ffmpeg encoder arguments plus what the asset records about it."""

    name: str
    mime: str
    codec: str
    suffix: str
    bitrate_k: int
    sample_rate: int = SAMPLE_RATE

    def encoder_args(self) -> list[str]:
        if self.name == "opus":
            # 60 ms frames: files, not calls, so latency is free and framing costs less
            return ["-c:a", "libopus", "-b:a", f"{self.bitrate_k}k", "-vbr", "on",
                    "-frame_duration", "60", "-f", "ogg"]
        return ["-c:a", "libmp3lame", "-b:a", f"{self.bitrate_k}k", "-f", "mp3"]


def opus(bitrate_k: int = 32) -> Format:
    return Format("opus", "audio/ogg", "opus", ".ogg", bitrate_k)


def mp3(bitrate_k: int = 64) -> Format:
    # 32 kHz: plenty for speech, and LAME at 48 kHz/64 kbps overshoots the true peak by up
    # to 3 dB on limited speech (measured), where 32 kHz stays within the headroom.
    return Format("mp3", "audio/mpeg", "mp3", ".mp3", bitrate_k, sample_rate=32_000)


@dataclass(frozen=True, slots=True)
class Gain:
    """What pass two applies: a constant gain, then a sample-peak limiter when ``limit_db``."""

    gain_db: float
    limit_db: float | None

    def filters(self) -> str:
        chain = [f"volume={self.gain_db:.2f}dB"]
        if self.limit_db is not None:
            level = 10 ** (self.limit_db / 20)
            chain.append(f"alimiter=limit={level:.5f}:attack=5:release=50:level=disabled")
        return ",".join(chain)


def downmix(channels: int) -> str:
    """An explicit mono downmix (the mean of all channels), identical in every pass."""
    if channels <= 1:
        return "aformat=channel_layouts=mono"
    share = f"{1 / channels:.6f}"
    return "pan=mono|c0=" + "+".join(f"{share}*c{i}" for i in range(channels))


def encode(
    source: Path, outputs: Sequence[tuple[Format, Path]], *, gain: Gain, duration_s: float,
    channels: int, waveform: tuple[Path, tuple[int, int]] | None = None,
    progress: Progress | None = None, ffmpeg: str = FFMPEG,
) -> None:
    """Write each ``(format, path)`` from ``source``'s first audio stream (and the waveform PNG)."""
    branches = len(outputs) + (1 if waveform else 0)
    labels = [f"[b{i}]" for i in range(len(outputs))] + (["[w]"] if waveform else [])
    graph = (f"[0:a:0]{downmix(channels)},aresample={SAMPLE_RATE},{gain.filters()},"
             f"aformat=sample_fmts=flt,asplit={branches}{''.join(labels)}")
    for i, (fmt, _) in enumerate(outputs):
        rate = "anull" if fmt.sample_rate == SAMPLE_RATE else f"aresample={fmt.sample_rate}"
        graph += f";[b{i}]{rate}[o{i}]"
    if waveform is not None:
        width, height = waveform[1]
        graph += (f";[w]aresample=8000,showwavespic=s={width}x{height}:"
                  f"colors={WAVEFORM_COLOUR}[v]")
    args = ["-y", "-i", str(source), "-filter_complex", graph]
    for i, (fmt, path) in enumerate(outputs):
        args += ["-map", f"[o{i}]", *fmt.encoder_args(), "-fflags", "+bitexact",
                 "-flags:a", "+bitexact", "-map_metadata", "-1", str(path)]
    if waveform is not None:
        args += ["-map", "[v]", "-frames:v", "1", "-c:v", "png", "-f", "image2",
                 str(waveform[0])]
    run_ffmpeg(args, duration_s=duration_s, progress=progress, ffmpeg=ffmpeg,
               what="normalising and encoding")
