"""A persistent ffmpeg decoder for one run of a stream: fMP4 Opus in, 48 kHz PCM out.

Segments are written to its input one after another (the initialisation segment first), and
its output is read as it comes: one decoder for a run of contiguous segments plays them
without a seam. Output sample ``n`` is the stream's sample ``n + pre_skip`` counted from the
first segment written (the Opus decoder drops the pre-skip once, at its start).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
BYTES_PER_SAMPLE = 2  # s16le, mono
DEFAULT_PRE_SKIP = 312
CHUNK_BYTES = SAMPLE_RATE // 10 * BYTES_PER_SAMPLE
"""Output is handed on in blocks of 100 ms (the playout delay is far longer): a speaker wakes
ten times a second for live audio, not fifty."""


def opus_pre_skip(init: bytes) -> int:
    """The pre-skip of the Opus track in an fMP4 initialisation segment (its ``dOps`` box)."""
    at = init.find(b"dOps")
    if at < 0 or len(init) < at + 8:
        return DEFAULT_PRE_SKIP
    return int.from_bytes(init[at + 6:at + 8], "big")


class Decoder:
    """Feed segments with ``write``; ``on_pcm(first_sample_index, pcm)`` gets the output."""

    def __init__(self, *, init: bytes, on_pcm: Callable[[int, bytes], None],
                 ffmpeg: str = "ffmpeg") -> None:
        self.pre_skip = opus_pre_skip(init)
        self._on_pcm = on_pcm
        self._proc = subprocess.Popen(
            [ffmpeg, "-hide_banner", "-loglevel", "error", "-probesize", "32",
             "-analyzeduration", "0", "-f", "mp4", "-i", "pipe:0", "-f", "s16le", "-ac", "1",
             "-ar", str(SAMPLE_RATE), "-flush_packets", "1", "pipe:1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._reader = threading.Thread(target=self._read, name="live-decoder", daemon=True)
        self._reader.start()
        self.write(init)

    def write(self, data: bytes) -> bool:
        stdin = self._proc.stdin
        if stdin is None:
            return False
        try:
            stdin.write(data)
            stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            return False
        return True

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        index = 0
        pending = bytearray()
        while True:
            chunk = os.read(stdout.fileno(), 65536)
            if chunk:
                pending.extend(chunk)
            usable = len(pending) - len(pending) % BYTES_PER_SAMPLE
            if usable and (usable >= CHUNK_BYTES or not chunk):
                block = bytes(pending[:usable])
                del pending[:usable]
                try:
                    self._on_pcm(index, block)
                except Exception:  # a consumer's failure must not stop the decoding
                    log.exception("live PCM consumer failed")
                index += len(block) // BYTES_PER_SAMPLE
            if not chunk:
                return

    def close(self) -> None:
        """Stop decoding at once (what is not played yet is dropped)."""
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=2)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
