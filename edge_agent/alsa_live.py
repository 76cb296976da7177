"""Live audio on a Pi: one ``aplay`` child per stretch of contiguous samples.

The first block of a stretch is placed at its instant by the card's own clock: ``aplay`` is
started ahead of time and given silence until the instant, then the samples follow without
a seam; from then on a blocking write to its small buffer (100 ms) paces the stream. A block
that does not continue the previous one starts a new stretch. Stopping drops what had not
been played.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from edge_agent.errors import SinkError

SAMPLE_RATE = 48_000
BYTES_PER_SAMPLE = 2
SEAM_S = 0.015
START_AHEAD_S = 0.4
"""``aplay`` is started this long before a stretch's first sample (process and device open)."""


class AlsaPcmSink:
    def __init__(self, device: str = "default",
                 clock: Callable[[], float] = time.time) -> None:
        self._device = device
        self.clock = clock  # the agent's clock in epoch seconds once the agent exists
        self._proc: subprocess.Popen[bytes] | None = None
        self._next: float | None = None

    def write(self, pcm: bytes, *, at: datetime, cancel: threading.Event) -> datetime | None:
        target = at.timestamp()
        if self._proc is None or self._next is None or abs(target - self._next) > SEAM_S:
            self.close()
            wait = target - START_AHEAD_S - self.clock()
            if wait > 0 and cancel.wait(wait):
                return None
            self._proc = self._open()
            lead = max(0.0, target - self.clock())
            self._send(bytes(int(lead * SAMPLE_RATE) * BYTES_PER_SAMPLE))  # silence until then
            start = self.clock() + lead
        else:
            start = self._next
        if cancel.is_set():
            return None
        self._send(pcm)
        self._next = start + len(pcm) / BYTES_PER_SAMPLE / SAMPLE_RATE
        return datetime.fromtimestamp(start, UTC)

    def close(self) -> None:
        proc, self._proc, self._next = self._proc, None, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # aplay plays out its buffer (100 ms) and exits
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _open(self) -> subprocess.Popen[bytes]:
        aplay = shutil.which("aplay")
        if aplay is None:
            raise SinkError("aplay not found: apt-get install alsa-utils")
        return subprocess.Popen(
            [aplay, "-q", "-D", self._device, "-t", "raw", "-f", "S16_LE",
             "-r", str(SAMPLE_RATE), "-c", "1", "--buffer-time=100000"],
            stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def _send(self, data: bytes) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise SinkError("the live output is not open")
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise SinkError(f"aplay stopped taking samples: {exc}") from exc
