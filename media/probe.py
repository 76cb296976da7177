"""Inspect an audio file with ffprobe and refuse what cannot be broadcast."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from media.errors import CorruptMedia, EmptyMedia, NotAudio, ToolMissing

log = logging.getLogger(__name__)

FFPROBE = "ffprobe"
PROBE_TIMEOUT_S = 30.0
_ADDRESS_RE = re.compile(r"\[([\w.-]+) @ 0x[0-9a-f]+\]\s*")
_MIME_BY_FORMAT = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "aac": "audio/aac",
    "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4",
    "matroska,webm": "audio/webm",
}


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What ffprobe found in the first audio stream of a file."""

    duration_ms: int
    codec: str
    sample_rate: int
    channels: int
    format_name: str
    bit_rate: int | None

    @property
    def mime(self) -> str:
        """The MIME type of the container, for HTTP Content-Type."""
        return _MIME_BY_FORMAT.get(self.format_name, "application/octet-stream")


def probe_audio(path: Path | str, *, ffprobe: str = FFPROBE) -> AudioInfo:
    """Describe the audio in ``path``; raise a MediaError saying why it is unusable."""
    data = _run_ffprobe(Path(path), ffprobe)
    fmt = _dict(data.get("format"))
    format_name = str(fmt.get("format_name") or "unknown")
    raw_streams = data.get("streams")
    streams = [_dict(s) for s in raw_streams] if isinstance(raw_streams, list) else []
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if audio is None:
        raise NotAudio(f"the file has no audio track (detected format: {format_name})")
    duration_s = _number(fmt.get("duration")) or _number(audio.get("duration")) or 0.0
    duration_ms = round(duration_s * 1000)
    if duration_ms <= 0:
        raise EmptyMedia(f"the audio track lasts no time at all (format: {format_name})")
    bit_rate = _number(fmt.get("bit_rate")) or _number(audio.get("bit_rate"))
    return AudioInfo(
        duration_ms=duration_ms,
        codec=str(audio.get("codec_name") or "unknown"),
        sample_rate=int(_number(audio.get("sample_rate")) or 0),
        channels=int(_number(audio.get("channels")) or 0),
        format_name=format_name,
        bit_rate=int(bit_rate) if bit_rate else None,
    )


def _run_ffprobe(path: Path, ffprobe: str) -> dict[str, object]:
    if not path.is_file():
        raise CorruptMedia(f"{path} does not exist or is not a file")
    cmd = [ffprobe, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise ToolMissing(
            f"{ffprobe} is not installed or not on PATH: install it with 'apt-get install ffmpeg'"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise CorruptMedia(f"ffprobe gave no answer within {PROBE_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0:
        reason = _first_error(proc.stderr).replace(f"{path}: ", "")
        raise CorruptMedia(f"the file cannot be read as media: {reason}")
    try:
        data = json.loads(proc.stdout)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptMedia(f"ffprobe returned unreadable output: {exc}") from exc
    if not isinstance(data, dict):
        raise CorruptMedia("ffprobe returned unreadable output")
    return _dict(data)


def _first_error(stderr: bytes) -> str:
    """The first non-empty line ffprobe wrote, without its '[demuxer @ 0x...]' address."""
    for line in stderr.decode(errors="replace").splitlines():
        line = line.strip()
        if line:
            return _ADDRESS_RE.sub(r"\1: ", line)[:300]
    return "ffprobe failed without a message"


def _dict(value: object) -> dict[str, object]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _number(value: object) -> float | None:
    if value is None or value == "N/A":
        return None
    try:
        return float(str(value))
    except ValueError:
        return None
