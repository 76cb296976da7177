"""The speech model's name and state, as the kiosk reports them in its health samples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_agent.speech.install import installed_from
from edge_agent.speech.model import validate_model_dir
from protocol.telemetry import SpeechModelState

HASH_SHOWN = 12  # hex digits of the archive's SHA-256 in the reported name


@dataclass(frozen=True, slots=True)
class SpeechModelStatus:
    label: str  # "vosk-model-small-vn-0.4 sha256:0123456789ab", or the folder's name
    state: SpeechModelState


def model_status(path: Path, *, load_error: str | None = None) -> SpeechModelStatus:
    """The state of the model at ``path``: missing, failed (incomplete or ``load_error``), or
    installed; named by the archive it was installed from when the installer recorded it."""
    label = path.name
    recorded = installed_from(path)
    if recorded is not None:
        digest, source = recorded
        name = source.rstrip("/").rsplit("/", 1)[-1].removesuffix(".zip") or path.name
        label = f"{name} sha256:{digest[:HASH_SHOWN]}"
    if not path.exists():
        state = SpeechModelState.MISSING
    elif load_error is not None or validate_model_dir(path):
        state = SpeechModelState.FAILED
    else:
        state = SpeechModelState.INSTALLED
    return SpeechModelStatus(label[:80], state)
