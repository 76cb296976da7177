"""A simulated microphone: plays WAV files into the kiosk as if someone spoke.

Files are converted to 16 kHz mono 16-bit PCM with ffmpeg when they are not already, and
followed by ``trailing_silence_s`` of silence so end-of-speech detection has something to hear.
With ``realtime=True`` chunks are paced at the speed of speech (as a real microphone delivers
them); tests use ``realtime=False``.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

FFMPEG_HINT = "ffmpeg not found: run ./run.sh test (installs it) or apt-get install ffmpeg"


def wav_to_pcm(path: Path, sample_rate: int = 16_000) -> bytes:
    """Raw s16le mono PCM at ``sample_rate`` from any WAV (ffmpeg converts when needed)."""
    with wave.open(str(path), "rb") as wf:
        if (wf.getframerate(), wf.getnchannels(), wf.getsampwidth()) == (sample_rate, 1, 2):
            return wf.readframes(wf.getnframes())
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError(FFMPEG_HINT)
    done = subprocess.run(
        [ffmpeg, "-loglevel", "error", "-i", str(path), "-ar", str(sample_rate), "-ac", "1",
         "-f", "s16le", "-"], capture_output=True, check=True,
    )
    return done.stdout


class WavMicrophone:
    """Each recording consumes the next queued WAV file (then silence until stopped)."""

    def __init__(self, sample_rate: int = 16_000, *, realtime: bool = False,
                 trailing_silence_s: float = 2.0) -> None:
        self.sample_rate = sample_rate
        self.realtime = realtime
        self.trailing_silence_s = trailing_silence_s
        self._queue: queue.Queue[bytes] = queue.Queue()
        self.recordings = 0

    def say(self, wav: Path) -> None:
        """Queue what the next person will say."""
        self._queue.put(wav_to_pcm(wav, self.sample_rate))

    def chunks(self, stop: threading.Event, chunk_ms: int = 100) -> Iterator[bytes]:
        self.recordings += 1
        try:
            pcm = self._queue.get_nowait()
        except queue.Empty:
            pcm = b""
        pcm += b"\x00\x00" * int(self.sample_rate * self.trailing_silence_s)
        size = self.sample_rate * 2 * chunk_ms // 1000
        for start in range(0, len(pcm), size):
            if stop.is_set():
                return
            if self.realtime:
                stop.wait(chunk_ms / 1000)
            yield pcm[start:start + size]
        while self.realtime and not stop.is_set():  # a live mic keeps delivering silence
            time.sleep(chunk_ms / 1000)
            yield b"\x00\x00" * (size // 2)
