"""Did a speaker play this source? Normalised cross-correlation of loudness envelopes.

Both signals are 48 kHz mono 16-bit PCM. Each becomes an envelope (RMS per 20 ms frame); the
played envelope is slid along the source's, taken as a loop (Chromium's fake microphone plays
its file over and over), and the best Pearson correlation is the score: about 1 when the same
speech was played, near 0 for silence, a tone or other speech.
"""

from __future__ import annotations

import array
import math
import struct
import subprocess
from pathlib import Path

RATE = 48_000
FRAME = RATE // 50  # 20 ms


def envelope(pcm: bytes) -> list[float]:
    n = len(pcm) // 2
    xs = struct.unpack(f"<{n}h", pcm[: n * 2])
    return [math.sqrt(sum(x * x for x in xs[i:i + FRAME]) / FRAME)
            for i in range(0, n - FRAME + 1, FRAME)]


def _pearson(a: list[float], b: list[float]) -> float:
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return 0.0 if va == 0 or vb == 0 else cov / math.sqrt(va * vb)


def loop_correlation(played: bytes, source: bytes, *, seconds: float = 6.0) -> float:
    """The best correlation of up to ``seconds`` of ``played`` (from its first sound) with
    ``source`` played in a loop, over every offset into the loop."""
    got = envelope(played)
    loop = envelope(source)
    floor = max(got, default=0.0) * 0.05
    first = next((i for i, v in enumerate(got) if v > floor), len(got))
    window = got[first:first + int(seconds * 50)]
    if len(window) < 50 or not loop:
        return 0.0
    return max(_pearson(window, [loop[(lag + i) % len(loop)] for i in range(len(window))])
               for lag in range(len(loop)))


def reversed_pcm(pcm: bytes) -> bytes:
    """The same samples played backwards (a control: same sounds, different speech)."""
    samples = array.array("h", pcm[: len(pcm) // 2 * 2])
    samples.reverse()
    return samples.tobytes()


def decode(path: Path) -> bytes:
    """Any audio file as 48 kHz mono 16-bit PCM (ffmpeg)."""
    done = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i",
                           str(path), "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"],
                          capture_output=True, check=True)
    return done.stdout


def spoken_source(path: Path) -> Path:
    """A Vietnamese sentence spoken by espeak-ng then 0.6 s of silence, as a 48 kHz mono
    16-bit WAV (what Chromium's fake microphone reads)."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", "vi", "-s", "150", "-w", str(raw),
                    "Xin chào bà con, đây là đài truyền thanh xã. Mời bà con nghe thông báo."],
                   check=True, capture_output=True)
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i",
                    str(raw), "-af", "apad=pad_dur=0.6", "-ac", "1", "-ar", str(RATE),
                    "-c:a", "pcm_s16le", str(path)], check=True, capture_output=True)
    return path
