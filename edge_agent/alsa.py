"""The real audio backend on a Pi: aplay (WAV) or ffplay (any codec) to ALSA; GPIO relay;
the microphone through ``arecord`` (a live session's source).

A WAV goes to ``aplay``: the samples reach ALSA unchanged, on the chosen device, and aplay
starts faster than ffplay. Anything else (Opus, MP3) goes to ``ffplay`` through SDL's ALSA
driver (``SDL_AUDIODRIVER=alsa`` unless the environment names another; ``AUDIODEV`` carries
the device), so a system service never tries a desktop sound server first.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from edge_agent.alsa_live import AlsaPcmSink
from edge_agent.errors import MicrophoneError, SinkError
from edge_agent.hardware import Hardware, PlayResult
from protocol.manifest import PlayItem

log = logging.getLogger(__name__)

# Mixer controls tried in this order: USB cards say Speaker or PCM, the Pi's own output PCM,
# HiFiBerry-style DACs Digital.
PREFERRED_CONTROLS = ("Master", "PCM", "Speaker", "Headphone", "Digital", "HDMI")
_AMIXER_TIMEOUT_S = 5.0


def is_wav(path: Path) -> bool:
    """A RIFF/WAVE file (the media cache names files by hash, so the header decides)."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"WAVE"


class AlsaSink:
    """Plays a file with aplay or ffplay as a child process; cancel terminates it."""

    def __init__(self, device: str = "default") -> None:
        self._device = device

    def _command(self, path: Path) -> tuple[list[str], dict[str, str] | None]:
        aplay = shutil.which("aplay")
        if aplay and is_wav(path):
            return [aplay, "-q", "-D", self._device, str(path)], None
        ffplay = shutil.which("ffplay")
        if ffplay:
            env = dict(os.environ)
            env.setdefault("SDL_AUDIODRIVER", "alsa")
            if self._device != "default":
                env["AUDIODEV"] = self._device
            return [ffplay, "-nodisp", "-autoexit", "-loglevel", "error", str(path)], env
        if aplay:
            raise SinkError("only WAV plays without ffplay, and this file is not WAV: "
                            "apt-get install ffmpeg")
        raise SinkError("neither ffplay nor aplay is installed: apt-get install ffmpeg alsa-utils")

    def play(
        self,
        path: Path,
        *,
        item: PlayItem,
        cancel: threading.Event,
        on_started: Callable[[datetime], None],
    ) -> PlayResult:
        command, env = self._command(path)
        try:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, env=env)
        except OSError as exc:
            raise SinkError(f"cannot start the audio player: {exc}") from exc
        started = datetime.now(UTC)
        on_started(started)
        while proc.poll() is None:
            if cancel.wait(0.05):
                proc.terminate()
                proc.wait(timeout=5)
                return PlayResult(started, datetime.now(UTC), completed=False)
        err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if proc.returncode != 0:
            raise SinkError(f"{Path(command[0]).name} exited with {proc.returncode}: "
                            f"{err.strip()}")
        return PlayResult(started, datetime.now(UTC), completed=True)


class SysfsRelay:
    """Amplifier relay on a GPIO line exported through sysfs (or nothing when not set).

    ``value_path`` is the line's ``value`` file, or a link to it (deploy/pi/relay-gpio.sh
    exports the line at service start and links it at /run/tt-agent/relay).
    """

    def __init__(self, value_path: Path | None) -> None:
        self._path = value_path

    def set_power(self, on: bool) -> None:
        if self._path is not None:
            self._path.write_text("1" if on else "0")


class AmixerVolume:
    """Output volume through ``amixer`` (perceptual scale, as alsamixer shows it).

    Without a named control the first of PREFERRED_CONTROLS the card has is used (else its
    first control). No amixer, no mixer, or no control: the level is not applied and a warning
    says why; playing goes on at the card's own level.
    """

    def __init__(self, control: str | None = None, mixer_device: str = "default") -> None:
        self._control = control
        self._mixer = mixer_device

    def _run(self, amixer: str, *args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run([amixer, "-D", self._mixer, *args], capture_output=True,
                                  text=True, timeout=_AMIXER_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("amixer on %s failed: %s", self._mixer, exc)
            return None

    def _find_control(self, amixer: str) -> str | None:
        done = self._run(amixer, "scontrols")
        if done is None:
            return None
        if done.returncode != 0:
            log.warning("no ALSA mixer on %s: %s", self._mixer, _last_line(done.stderr))
            return None
        names = re.findall(r"Simple mixer control '([^']*)',0", done.stdout)
        for name in PREFERRED_CONTROLS:
            if name in names:
                return name
        return names[0] if names else None

    def set_level(self, level: int) -> None:
        amixer = shutil.which("amixer")
        if amixer is None:
            log.warning("amixer not installed (apt-get install alsa-utils); "
                        "volume %d%% not applied", level)
            return
        control = self._control or self._find_control(amixer)
        if control is None:
            log.warning("no mixer control on %s; volume %d%% not applied", self._mixer, level)
            return
        level = max(0, min(100, level))
        done = self._run(amixer, "-q", "-M", "sset", control, f"{level}%")
        if done is not None and done.returncode != 0:
            log.warning("amixer could not set %s to %d%%: %s", control, level,
                        _last_line(done.stderr))
            return
        if done is not None:
            self._control = control  # found once, kept


class AlsaMicrophone:
    """Capture through ``arecord`` (alsa-utils): raw S16_LE mono at ``sample_rate``."""

    def __init__(self, device: str = "default", sample_rate: int = 48_000) -> None:
        self.device = device
        self.sample_rate = sample_rate

    def chunks(self, stop: threading.Event, chunk_ms: int = 100) -> Iterator[bytes]:
        exe = shutil.which("arecord")
        if exe is None:
            raise MicrophoneError("arecord not found: apt-get install alsa-utils")
        size = self.sample_rate * 2 * chunk_ms // 1000
        proc = subprocess.Popen(
            [exe, "-q", "-D", self.device, "-t", "raw", "-f", "S16_LE", "-r",
             str(self.sample_rate), "-c", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        try:
            while not stop.is_set():
                data = proc.stdout.read(size)
                if not data:
                    proc.wait(timeout=2)
                    raise MicrophoneError(f"arecord ended ({proc.returncode}): "
                                          + _last_line(proc.stderr.read().decode(errors="replace")))
                yield data
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][-200:] if lines else "no error output"


def alsa_hardware(relay_gpio_value: Path | None = None) -> Hardware:
    return Hardware(sink=AlsaSink(), amplifier=SysfsRelay(relay_gpio_value), volume=AmixerVolume(),
                    microphone=AlsaMicrophone(), live=AlsaPcmSink())
