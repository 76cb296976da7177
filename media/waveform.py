"""A small waveform picture (PNG) of an audio file, for the operators' console."""

from __future__ import annotations

from pathlib import Path

from media.encode import WAVEFORM_COLOUR, downmix
from media.ffmpeg import FFMPEG, remove_quietly, run_ffmpeg
from media.probe import probe_audio


def render_waveform(
    source: Path, out: Path, *, size: tuple[int, int] = (600, 80), ffmpeg: str = FFMPEG
) -> Path:
    """Draw ``source``'s waveform (mono, one pass, streaming) into the PNG ``out``."""
    info = probe_audio(source)
    tmp = out.with_name(f".{out.name}.part")
    graph = (f"[0:a:0]{downmix(info.channels)},aresample=8000,"
             f"showwavespic=s={size[0]}x{size[1]}:colors={WAVEFORM_COLOUR}[v]")
    try:
        run_ffmpeg(["-y", "-i", str(source), "-filter_complex", graph, "-map", "[v]",
                    "-frames:v", "1", "-c:v", "png", "-f", "image2", str(tmp)],
                   ffmpeg=ffmpeg, what="drawing the waveform")
        tmp.replace(out)
    finally:
        remove_quietly(tmp)
    return out
