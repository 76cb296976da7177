"""Media handling: probing (and later normalising and encoding) audio with ffmpeg.

This package imports no other project package; callers convert its errors at their boundary.
"""

from media.errors import CorruptMedia, EmptyMedia, MediaError, NotAudio, ToolMissing
from media.probe import AudioInfo, probe_audio

__all__ = [
    "AudioInfo",
    "CorruptMedia",
    "EmptyMedia",
    "MediaError",
    "NotAudio",
    "ToolMissing",
    "probe_audio",
]
