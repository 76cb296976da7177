"""Interfaces to the device's hardware; firmware_sim and the ALSA backend implement them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from protocol.manifest import PlayItem


@dataclass(frozen=True, slots=True)
class PlayResult:
    """What the sink reports after a play ends (finished or cancelled)."""

    started_at: datetime
    ended_at: datetime
    completed: bool


class AudioSink(Protocol):
    def play(
        self,
        path: Path,
        *,
        item: PlayItem,
        cancel: threading.Event,
        on_started: Callable[[datetime], None],
    ) -> PlayResult:
        """Play a verified file; block until it ends or `cancel` is set. Raise SinkError.

        `on_started` is called with the real instant the first sample left the device.
        """
        ...


class PcmSink(Protocol):
    """The output of live audio: 48 kHz mono signed 16-bit samples, each at its instant."""

    def write(self, pcm: bytes, *, at: datetime, cancel: threading.Event) -> datetime | None:
        """Play ``pcm`` from the center-time instant ``at`` (continuing the previous write
        without a seam when ``at`` is where it ended); block until the samples are handed to
        the output. Return the instant the first sample left, None if ``cancel`` was set."""
        ...

    def close(self) -> None:
        """The live play ended: let the buffered samples out and release the output."""
        ...


class Microphone(Protocol):
    """The device's microphone: 16-bit little-endian mono PCM at ``sample_rate`` Hz."""

    sample_rate: int

    def chunks(self, stop: threading.Event, chunk_ms: int = 100) -> Iterator[bytes]:
        """Samples as they are captured, ``chunk_ms`` at a time, until ``stop`` is set or the
        input ends. Raise MicrophoneError when it cannot be opened."""
        ...


class Amplifier(Protocol):
    def set_power(self, on: bool) -> None:
        """Switch the amplifier relay."""
        ...


class VolumeControl(Protocol):
    def set_level(self, level: int) -> None:
        """Set the output volume, 0-100 percent."""
        ...


@dataclass(frozen=True, slots=True)
class Hardware:
    sink: AudioSink
    amplifier: Amplifier
    volume: VolumeControl
    live: PcmSink | None = None  # None: this device cannot play live audio
    microphone: Microphone | None = None  # None: this device cannot be a live source
