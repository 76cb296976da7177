"""Pipeline settings: one frozen value object, built from TT_MEDIA_* variables by a function."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from media.errors import MediaConfigError

_ENV_PREFIX = "TT_MEDIA_"


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Targets and limits of the upload pipeline (defaults: EBU R128 for speech on loudspeakers).

    ``headroom_db`` is kept below the true-peak limit before encoding because lossy encoding
    raises the true peak; the encoded file is measured and re-encoded quieter if it still
    exceeds ``true_peak_db``.
    """

    target_lufs: float = -16.0
    true_peak_db: float = -1.5
    lra: float = 11.0
    headroom_db: float = 1.0
    opus_bitrate_k: int = 32
    mp3_bitrate_k: int = 64
    mp3_fallback: bool = True
    max_seconds: float = 3600.0
    silence_db: float = -50.0
    silent_fraction: float = 0.9
    waveform_size: tuple[int, int] = (600, 80)

    def __post_init__(self) -> None:
        if not -40.0 <= self.target_lufs <= -5.0:
            raise MediaConfigError(f"target loudness {self.target_lufs} LUFS is outside -40..-5")
        if not -9.0 <= self.true_peak_db <= 0.0:
            raise MediaConfigError(f"true-peak limit {self.true_peak_db} dBTP is outside -9..0")
        if not 6 <= self.opus_bitrate_k <= 256 or not 32 <= self.mp3_bitrate_k <= 320:
            raise MediaConfigError("Opus bitrate must be 6..256 kbps and MP3 32..320 kbps")
        if self.max_seconds <= 0 or not 0 < self.silent_fraction <= 1:
            raise MediaConfigError("max_seconds must be positive and silent_fraction in (0, 1]")


def config_from_env(environ: Mapping[str, str] = os.environ) -> PipelineConfig:
    """Build a config from ``TT_MEDIA_TARGET_LUFS``, ``TT_MEDIA_MAX_SECONDS``... (field names)."""
    values: dict[str, object] = {}
    for f in fields(PipelineConfig):
        raw = environ.get(_ENV_PREFIX + f.name.upper())
        if raw is None or raw.strip() == "" or f.name == "waveform_size":
            continue
        try:
            if f.type == "bool":
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type == "int":
                values[f.name] = int(raw)
            else:
                values[f.name] = float(raw)
        except ValueError as exc:
            name = _ENV_PREFIX + f.name.upper()
            raise MediaConfigError(f"{name}={raw!r} is not a number") from exc
    return PipelineConfig(**values)  # type: ignore[arg-type]
