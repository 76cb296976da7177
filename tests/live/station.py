"""Test helpers for live audio: an upstream station (ffmpeg serving MP3 over HTTP) and checks
of what simulated live sinks played."""

from __future__ import annotations

import math
import socket
import struct
import subprocess
from types import TracebackType

SAMPLE_RATE = 48_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UpstreamStation:
    """An upper station: ffmpeg plays a tone in real time as an MP3 stream over HTTP to the
    first client that connects (``-listen 1``); ``stop``/``start`` cut and restore it."""

    def __init__(self, freq: int = 440) -> None:
        self.port = free_port()
        self.freq = freq
        self.url = f"http://127.0.0.1:{self.port}/station.mp3"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "quiet", "-nostdin", "-re", "-f", "lavfi",
             "-i", f"sine=f={self.freq}:r={SAMPLE_RATE}", "-c:a", "libmp3lame", "-b:a", "64k",
             "-f", "mp3", "-listen", "1", self.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def __enter__(self) -> UpstreamStation:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def samples(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2]))


def tone_share(pcm: bytes, freq: float) -> float:
    """The share of the signal's energy at ``freq`` (Goertzel over the whole block): about 1
    for a pure tone at that frequency, about 0 for silence, noise or another tone."""
    xs = samples(pcm)
    if not xs:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * freq / SAMPLE_RATE)
    s1 = s2 = 0.0
    for x in xs:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    energy = sum(x * x for x in xs)
    return 0.0 if energy == 0 else min(1.0, 2 * power / (len(xs) * energy))


def played_between(blocks: list[tuple[float, bytes]], start: float, end: float) -> float:
    """Seconds of audio the blocks played within [start, end)."""
    total = 0.0
    for b_start, pcm in blocks:
        b_end = b_start + len(pcm) / 2 / SAMPLE_RATE
        total += max(0.0, min(end, b_end) - max(start, b_start))
    return total
