"""Speech configuration (the ``speech`` section of the agent's JSON config)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.errors import ConfigError


@dataclass(frozen=True, slots=True)
class SpeechConfig:
    model_path: Path | None = None  # a Vosk model folder; None: voice input is off
    sample_rate: int = 16_000
    chunk_ms: int = 100  # microphone chunk length fed to the recogniser
    silence_s: float = 1.2  # end of speech after this much silence following speech
    max_s: float = 20.0  # time cap of one recording
    energy_threshold: int = 400  # mean absolute amplitude (s16) above which a chunk is speech
    keep_audio_with_consent: bool = True  # recordings are stored only if the citizen agrees


def speech_config_from_dict(data: object) -> SpeechConfig:
    if data is None:
        return SpeechConfig()
    if not isinstance(data, dict):
        raise ConfigError("section 'speech' must be an object")
    values: dict[str, Any] = dict(data)
    if values.get("model_path") is not None:
        values["model_path"] = Path(str(values["model_path"]))
    try:
        return SpeechConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"section 'speech': {exc}") from exc
