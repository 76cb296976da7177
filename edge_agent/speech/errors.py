"""Speech errors; Vosk's bare ``Exception`` is converted where it enters."""

from __future__ import annotations

from edge_agent.errors import AgentError

INSTALL_HINT = ("install one with: python -m edge_agent.speech install <model folder, .zip or "
                "URL> <model path> [--sha256 HEX]")


class SpeechError(AgentError):
    """Base class of every speech failure."""


class ModelUnavailable(SpeechError):
    """No usable model at the configured path (missing, incomplete or unreadable).

    The message is the one the kiosk shows ("voice input unavailable") and the agent logs.
    """


class OutOfVocabulary(SpeechError):
    """A grammar names words the model does not know (they would be silently dropped)."""

    def __init__(self, words: list[str]) -> None:
        super().__init__(
            f"words missing from the speech model's vocabulary: {', '.join(words)}; "
            "rephrase them with words the model knows or use a model that has them"
        )
        self.words = tuple(words)
