"""Media handling: probe, validate, loudness-normalise and encode audio; offline speech.

``pipeline.process`` turns any upload into delivery renditions (Opus in Ogg, MP3 fallback);
``tts.speak`` turns Vietnamese text into speech; ``compose.compose`` assembles bulletins.
This package imports no other project package; callers convert its errors at their boundary.
"""

from media.config import PipelineConfig, config_from_env
from media.errors import (
    CorruptMedia,
    EmptyMedia,
    MediaConfigError,
    MediaError,
    NotAudio,
    ProcessingFailed,
    SilentMedia,
    SpeechFailed,
    ToolMissing,
    TooLong,
)
from media.probe import AudioInfo, probe_audio

__all__ = [
    "AudioInfo",
    "CorruptMedia",
    "EmptyMedia",
    "MediaConfigError",
    "MediaError",
    "NotAudio",
    "PipelineConfig",
    "ProcessingFailed",
    "SilentMedia",
    "SpeechFailed",
    "ToolMissing",
    "TooLong",
    "config_from_env",
    "probe_audio",
]
