"""Loading a Vosk model with a clear error, and grammars checked against its vocabulary."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.speech.errors import INSTALL_HINT, ModelUnavailable, OutOfVocabulary
from edge_agent.speech.stream import Transcriber

log = logging.getLogger(__name__)

REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")
GRAPHS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))
_vosk_lock = threading.Lock()


def validate_model_dir(path: Path) -> list[str]:
    """Problems that make ``path`` unusable as a Vosk model (empty list: looks complete)."""
    if not path.is_dir():
        return [f"{path} is not a folder"]
    problems = [f"missing {name}" for name in REQUIRED_FILES if not (path / name).is_file()]
    if not any(all((path / f).is_file() for f in graph) for graph in GRAPHS):
        problems.append("missing graph/HCLG.fst (or graph/HCLr.fst with graph/Gr.fst)")
    for name in (*REQUIRED_FILES, *(f for graph in GRAPHS for f in graph)):
        file = path / name
        if file.is_file() and file.stat().st_size == 0:
            problems.append(f"{name} is empty")
    return problems


def _vosk() -> Any:
    """The vosk module (untyped: every use goes through this module and stream.py)."""
    try:
        import vosk  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - vosk is a pinned dependency
        raise ModelUnavailable(
            "speech recognition unavailable: the vosk package is not installed "
            "(run ./run.sh test, or pip install vosk)"
        ) from exc
    return vosk


@dataclass(frozen=True, slots=True)
class Grammar:
    """Phrases a restricted recogniser may return; every word is in the model's vocabulary."""

    phrases: tuple[str, ...]

    def as_json(self) -> str:
        return json.dumps(list(self.phrases), ensure_ascii=False)


class SpeechModel:
    """A loaded Vosk model (load it once; recognisers built from it are cheap)."""

    def __init__(self, path: Path, handle: object, sample_rate: int) -> None:
        self.path = path
        self._handle = handle
        self.sample_rate = sample_rate

    @property
    def handle(self) -> object:
        return self._handle

    def knows(self, word: str) -> bool:
        """True when ``word`` is in the model's vocabulary."""
        found: int = self._handle.vosk_model_find_word(word)  # type: ignore[attr-defined]
        return found >= 0

    def missing_words(self, phrases: list[str] | tuple[str, ...]) -> list[str]:
        words = dict.fromkeys(w for p in phrases for w in p.split())
        return [w for w in words if not self.knows(w)]

    def grammar(self, phrases: list[str] | tuple[str, ...]) -> Grammar:
        """A grammar of ``phrases``; OutOfVocabulary names every word the model lacks."""
        cleaned = tuple(" ".join(p.split()) for p in phrases if p.strip())
        if not cleaned:
            raise ValueError("a grammar needs at least one phrase")
        missing = self.missing_words(cleaned)
        if missing:
            raise OutOfVocabulary(missing)
        return Grammar(cleaned)

    def transcriber(self, grammar: Grammar | None = None) -> Transcriber:
        return Transcriber(self, grammar)


def load_model(path: Path | None, *, sample_rate: int = 16_000, quiet: bool = True) -> SpeechModel:
    """Load the Vosk model at ``path``; ModelUnavailable with an actionable message if not."""
    if path is None:
        raise ModelUnavailable(f"no speech model configured (speech.model_path); {INSTALL_HINT}")
    if not path.exists():
        raise ModelUnavailable(f"no speech model at {path}; {INSTALL_HINT}")
    problems = validate_model_dir(path)
    if problems:
        raise ModelUnavailable(
            f"the speech model at {path} is incomplete ({'; '.join(problems)}); {INSTALL_HINT}"
        )
    vosk = _vosk()
    with _vosk_lock:
        if quiet:
            vosk.SetLogLevel(-1)
        try:
            handle = vosk.Model(str(path))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise ModelUnavailable(
                f"the speech model at {path} could not be loaded ({exc}); it is damaged or not "
                f"a Vosk model; {INSTALL_HINT}"
            ) from exc
    log.info("speech model loaded from %s", path)
    return SpeechModel(path, handle, sample_rate)

