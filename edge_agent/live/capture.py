"""The device as the source of a live session: its microphone, encoded and sent to the center.

On a signed ``live_capture`` command the agent acknowledges it, then reads the microphone,
encodes it with ffmpeg to Ogg/Opus (32 kbps, one Ogg page about every 250 ms) and POSTs the
pages in order to ``{url}/source?seq=&recorder=`` with its source token. It stops when the
center answers 409 or 410 (the session ended), 403 or 404 (refused), when ``until`` passes, on
a ``stop`` command or a newer ``live_capture``. A POST that fails (network, 5xx) is tried
again with the same ``seq`` after a growing pause; past the last try the capture gives up and
reports an ``agent_fault`` (component ``live_capture``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from edge_agent.clock import Clock
from edge_agent.errors import AgentError
from edge_agent.hardware import Microphone
from edge_agent.supervision import FaultSink
from protocol.events import CommandOutcome
from protocol.manifest import Command, LiveCapture

log = logging.getLogger(__name__)
Ack = Callable[[str, CommandOutcome, str], None]
COMPONENT = "live_capture"
ENDED = (409, 410)      # the session is over: stop quietly
REFUSED = (403, 404)    # not (or no longer) this device's to feed: stop


class CaptureFailed(AgentError):
    """The center could not be given the audio (after retries), or refused it."""


@dataclass(frozen=True, slots=True)
class CaptureConfig:
    bitrate: int = 32_000
    chunk_ms: int = 250
    attempts: int = 4        # tries of one chunk before giving up
    retry_s: float = 0.5     # the first pause between tries; doubled each time
    ffmpeg: str = "ffmpeg"


class _Capture:
    """One capture: the microphone into ffmpeg, ffmpeg's pages to the center, in order."""

    def __init__(self, action: LiveCapture, *, device_id: str, microphone: Microphone,
                 clock: Clock, config: CaptureConfig, on_fault: FaultSink) -> None:
        self.action = action
        self.stop = threading.Event()
        self.sent = 0
        self._mic = microphone
        self._clock = clock
        self._config = config
        self._on_fault = on_fault
        self._recorder = uuid.uuid4().hex[:16]
        self._headers = {"X-Device-Id": device_id, "Authorization": f"Bearer {action.token}",
                         "Content-Type": "application/octet-stream"}
        self.thread = threading.Thread(target=self._run, name="live-capture", daemon=True)

    def _run(self) -> None:
        cfg = self._config
        proc = subprocess.Popen(
            [cfg.ffmpeg, "-hide_banner", "-loglevel", "error", "-probesize", "32",
             "-analyzeduration", "0", "-fflags", "nobuffer", "-f", "s16le", "-ar",
             str(self._mic.sample_rate), "-ac", "1", "-i", "pipe:0", "-c:a", "libopus",
             "-b:a", str(cfg.bitrate), "-application", "voip", "-f", "ogg", "-page_duration",
             str(cfg.chunk_ms * 1000), "-flush_packets", "1", "pipe:1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        feeder = threading.Thread(target=self._feed, args=(proc,), name="live-capture-mic",
                                  daemon=True)
        feeder.start()
        try:
            with httpx.Client(timeout=10) as client:
                self._upload(proc, client)
        except CaptureFailed as exc:
            self._on_fault(COMPONENT, exc, "live capture stopped; the session goes on without "
                                           "this microphone")
        except Exception as exc:  # a capture failure must not touch the rest of the agent
            self._on_fault(COMPONENT, exc, "live capture stopped")
        finally:
            self.stop.set()
            proc.kill()
            feeder.join(timeout=5)
            with proc:  # closes its pipes and waits for it
                pass
            log.info("live capture of %s ended after %d chunks", self.action.stream_id, self.sent)

    def _feed(self, proc: subprocess.Popen[bytes]) -> None:
        stdin = proc.stdin
        assert stdin is not None
        try:
            for pcm in self._mic.chunks(self.stop, chunk_ms=50):
                stdin.write(pcm)
                stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # ffmpeg was stopped
        except Exception as exc:  # the microphone failed: what was captured is still sent
            self._on_fault(COMPONENT, exc, "microphone lost; the live capture ends")
        finally:
            with contextlib.suppress(OSError):
                stdin.close()  # ffmpeg writes its last page and ends

    def _upload(self, proc: subprocess.Popen[bytes], client: httpx.Client) -> None:
        stdout = proc.stdout
        assert stdout is not None
        pending = bytearray()
        last = time.monotonic()
        while True:
            data = os.read(stdout.fileno(), 65_536)
            if data:
                pending += data
            if self._clock.now() >= self.action.until:
                log.info("live capture of %s: its time is up", self.action.stream_id)
                self.stop.set()
            if pending and (not data or time.monotonic() - last >= self._config.chunk_ms / 2000):
                if not self._post(client, bytes(pending)):
                    return
                pending.clear()
                last = time.monotonic()
            if not data:
                return  # ffmpeg ended: the microphone stopped

    def _post(self, client: httpx.Client, chunk: bytes) -> bool:
        """Send chunk ``self.sent``; False when the center says to stop."""
        url = f"{self.action.url}/source"
        params: dict[str, str | int] = {"seq": self.sent, "recorder": self._recorder}
        pause = self._config.retry_s
        for attempt in range(1, self._config.attempts + 1):
            try:
                r = client.post(url, params=params, content=chunk, headers=self._headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if r.status_code == 200:
                    self.sent += 1
                    return True
                if r.status_code in ENDED:
                    log.info("live capture of %s: the center ended it (%d)",
                             self.action.stream_id, r.status_code)
                    return False
                if r.status_code < 500:
                    raise CaptureFailed(f"the center refused chunk {self.sent} "
                                        f"({r.status_code}): {r.text[:200]}")
                problem = f"the center answered {r.status_code}"
            if attempt == self._config.attempts or self.stop.wait(pause):
                raise CaptureFailed(f"chunk {self.sent} not sent after {attempt} tries: "
                                    f"{problem}")
            pause *= 2
        return False


class LiveCaptures:
    """Takes ``live_capture`` commands; one capture at a time (a newer one replaces it)."""

    def __init__(self, *, device_id: str, microphone: Microphone | None, clock: Clock,
                 ack: Ack, on_fault: FaultSink, config: CaptureConfig | None = None) -> None:
        self._device_id = device_id
        self._mic = microphone
        self._clock = clock
        self._ack = ack
        self._on_fault = on_fault
        self._config = config or CaptureConfig()
        self._lock = threading.Lock()
        self._current: _Capture | None = None

    @property
    def current(self) -> LiveCapture | None:
        """The command being captured for, if a capture runs."""
        with self._lock:
            running = self._current
        return running.action if running and running.thread.is_alive() else None

    def take(self, cmd: Command, action: LiveCapture) -> None:
        """Start capturing for ``action`` and acknowledge it, or reject it with the reason."""
        if self._mic is None:
            self._ack(cmd.id, CommandOutcome.REJECTED, "this device has no microphone")
            return
        if shutil.which(self._config.ffmpeg) is None:
            self._ack(cmd.id, CommandOutcome.REJECTED, "ffmpeg not found: apt-get install ffmpeg")
            return
        self.stop()
        capture = _Capture(action, device_id=self._device_id, microphone=self._mic,
                           clock=self._clock, config=self._config, on_fault=self._on_fault)
        with self._lock:
            self._current = capture
        self._ack(cmd.id, CommandOutcome.ACCEPTED, "")
        capture.thread.start()
        log.info("live capture of %s started (until %s)", action.stream_id,
                 action.until.isoformat())

    def stop(self, timeout: float = 5.0) -> None:
        """End the running capture, if any (its last captured audio is still sent)."""
        with self._lock:
            capture, self._current = self._current, None
        if capture is not None:
            capture.stop.set()
            if capture.thread.is_alive():
                capture.thread.join(timeout)
