"""The microphone interface; on a Pi, ALSA's ``arecord`` (firmware_sim feeds WAV files)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Protocol

from edge_agent.speech.errors import SpeechError

log = logging.getLogger(__name__)


class Microphone(Protocol):
    sample_rate: int

    def chunks(self, stop: threading.Event, chunk_ms: int = 100) -> Iterator[bytes]:
        """16-bit little-endian mono PCM at ``sample_rate``, until ``stop`` or end of input."""
        ...


class ArecordMicrophone:
    """Press-to-talk capture through ``arecord`` (alsa-utils) on the default ALSA device."""

    def __init__(self, device: str = "default", sample_rate: int = 16_000) -> None:
        self.device = device
        self.sample_rate = sample_rate

    def chunks(self, stop: threading.Event, chunk_ms: int = 100) -> Iterator[bytes]:
        exe = shutil.which("arecord")
        if exe is None:
            raise SpeechError("arecord not found: apt-get install alsa-utils")
        size = self.sample_rate * 2 * chunk_ms // 1000
        proc = subprocess.Popen(
            [exe, "-q", "-D", self.device, "-f", "S16_LE", "-r", str(self.sample_rate),
             "-c", "1", "-t", "raw"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        try:
            while not stop.is_set():
                data = proc.stdout.read(size)
                if not data:
                    break
                yield data
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
