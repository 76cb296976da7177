"""Offline speech recognition on the kiosk with Vosk: model, grammar, streaming, microphone.

``load_model`` gives a :class:`SpeechModel` (or a :class:`ModelUnavailable` error carrying the
message shown on the kiosk); ``SpeechModel.transcriber`` streams PCM and returns partial and
final text, free or restricted to a :class:`Grammar` whose words were checked against the
model's vocabulary when it was built.
"""

from edge_agent.speech.errors import ModelUnavailable, OutOfVocabulary, SpeechError
from edge_agent.speech.model import Grammar, SpeechModel, load_model, validate_model_dir
from edge_agent.speech.stream import Transcriber, VoiceResult, listen

__all__ = [
    "Grammar",
    "ModelUnavailable",
    "OutOfVocabulary",
    "SpeechError",
    "SpeechModel",
    "Transcriber",
    "VoiceResult",
    "listen",
    "load_model",
    "validate_model_dir",
]
