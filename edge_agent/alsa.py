"""The real audio backend on a Pi: ffplay (any codec) or aplay (WAV) to ALSA; GPIO relay."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from edge_agent.errors import SinkError
from edge_agent.hardware import Hardware, PlayResult
from protocol.manifest import PlayItem

log = logging.getLogger(__name__)


class AlsaSink:
    """Plays a file with ffplay (or aplay) as a child process; cancel terminates it."""

    def __init__(self, device: str = "default") -> None:
        self._device = device

    def _command(self, path: Path) -> list[str]:
        ffplay = shutil.which("ffplay")
        if ffplay:
            return [ffplay, "-nodisp", "-autoexit", "-loglevel", "error", str(path)]
        aplay = shutil.which("aplay")
        if aplay:
            return [aplay, "-q", "-D", self._device, str(path)]
        raise SinkError("neither ffplay nor aplay is installed: apt-get install ffmpeg alsa-utils")

    def play(
        self,
        path: Path,
        *,
        item: PlayItem,
        cancel: threading.Event,
        on_started: Callable[[datetime], None],
    ) -> PlayResult:
        try:
            proc = subprocess.Popen(self._command(path), stdin=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        except OSError as exc:
            raise SinkError(f"cannot start the audio player: {exc}") from exc
        started = datetime.now(UTC)
        on_started(started)
        while proc.poll() is None:
            if cancel.wait(0.05):
                proc.terminate()
                proc.wait(timeout=5)
                return PlayResult(started, datetime.now(UTC), completed=False)
        if proc.returncode != 0:
            err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
            raise SinkError(f"player exited with {proc.returncode}: {err.strip()}")
        return PlayResult(started, datetime.now(UTC), completed=True)


class SysfsRelay:
    """Amplifier relay on a GPIO line exported through sysfs (or nothing when not set)."""

    def __init__(self, value_path: Path | None) -> None:
        self._path = value_path

    def set_power(self, on: bool) -> None:
        if self._path is not None:
            self._path.write_text("1" if on else "0")


class AmixerVolume:
    def __init__(self, control: str = "Master") -> None:
        self._control = control

    def set_level(self, level: int) -> None:
        amixer = shutil.which("amixer")
        if amixer is None:
            log.warning("amixer not installed; volume %d%% not applied", level)
            return
        subprocess.run([amixer, "-q", "sset", self._control, f"{level}%"], check=False)


def alsa_hardware(relay_gpio_value: Path | None = None) -> Hardware:
    return Hardware(sink=AlsaSink(), amplifier=SysfsRelay(relay_gpio_value), volume=AmixerVolume())
