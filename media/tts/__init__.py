"""Offline text-to-speech: a Vietnamese text normaliser and pluggable engines."""

from __future__ import annotations

import logging
from pathlib import Path

from media.errors import SpeechFailed
from media.probe import AudioInfo, probe_audio
from media.tts.engines import (
    CommandEngine,
    EspeakEngine,
    TtsEngine,
    engine_from_env,
    load_engine,
)
from media.tts.vi_text import normalise_vi

log = logging.getLogger(__name__)

__all__ = ["CommandEngine", "EspeakEngine", "TtsEngine", "engine_from_env", "load_engine",
           "normalise_vi", "speak"]


def speak(text: str, out: Path, *, engine: TtsEngine | None = None) -> AudioInfo:
    """Normalise ``text``, synthesise it to ``out`` and return what was written."""
    spoken = normalise_vi(text)
    if not spoken:
        raise SpeechFailed("there is no text to speak")
    engine = engine or EspeakEngine()
    try:
        engine.synthesize(spoken, out)
        if not out.is_file() or out.stat().st_size == 0:
            raise SpeechFailed(f"{engine.name} wrote no audio")
        return probe_audio(out)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
