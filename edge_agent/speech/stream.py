"""Streaming recognition: feed PCM while the person speaks, read partial and final text."""

from __future__ import annotations

import json
import threading
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge_agent.speech.model import Grammar, SpeechModel


def _text(raw: str, key: str) -> str:
    value = json.loads(raw).get(key, "")
    return str(value).strip()


class Transcriber:
    """One utterance (or a few) through one Vosk recogniser; not thread-safe."""

    def __init__(self, model: SpeechModel, grammar: Grammar | None = None) -> None:
        from edge_agent.speech.model import _vosk

        vosk = _vosk()
        if grammar is None:
            self._rec = vosk.KaldiRecognizer(model.handle, float(model.sample_rate))
        else:
            self._rec = vosk.KaldiRecognizer(model.handle, float(model.sample_rate),
                                             grammar.as_json())
        self._segments: list[str] = []
        self.partial = ""

    def feed(self, pcm: bytes) -> str:
        """Accept 16-bit mono PCM; return the text so far (final segments + partial)."""
        if self._rec.AcceptWaveform(pcm):
            segment = _text(self._rec.Result(), "text")
            if segment:
                self._segments.append(segment)
            self.partial = ""
        else:
            self.partial = _text(self._rec.PartialResult(), "partial")
        return " ".join([*self._segments, self.partial]).strip()

    def finish(self) -> str:
        """Flush the recogniser and return the whole transcript."""
        segment = _text(self._rec.FinalResult(), "text")
        if segment:
            self._segments.append(segment)
        self.partial = ""
        return " ".join(self._segments).strip()


def chunk_level(pcm: bytes) -> int:
    """Mean absolute amplitude of a chunk of 16-bit little-endian samples."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if not samples:
        return 0
    return sum(abs(s) for s in samples) // len(samples)


@dataclass(frozen=True, slots=True)
class VoiceResult:
    text: str
    ended_by: str  # "silence", "time_cap", "stopped", "end_of_input"
    audio: bytes  # the PCM heard (kept only with consent)
    duration_s: float
    processing_s: float


def listen(
    chunks: Iterable[bytes], transcriber: Transcriber, *, sample_rate: int,
    silence_s: float, max_s: float, energy_threshold: int,
    on_partial: Callable[[str], None] | None = None, stop: threading.Event | None = None,
) -> VoiceResult:
    """Recognise from a microphone until silence after speech, the time cap, or ``stop``."""
    heard = bytearray()
    spoken = False
    quiet_s = 0.0
    ended_by = "end_of_input"
    busy = 0.0
    last = ""
    for pcm in chunks:
        if stop is not None and stop.is_set():
            ended_by = "stopped"
            break
        heard += pcm
        seconds = len(pcm) / 2 / sample_rate
        started = time.perf_counter()
        text = transcriber.feed(pcm)
        busy += time.perf_counter() - started
        if on_partial is not None and text != last:
            on_partial(text)
        last = text
        if chunk_level(pcm) >= energy_threshold:
            spoken, quiet_s = True, 0.0
        elif spoken:
            quiet_s += seconds
        if spoken and quiet_s >= silence_s:
            ended_by = "silence"
            break
        if len(heard) / 2 / sample_rate >= max_s:
            ended_by = "time_cap"
            break
    started = time.perf_counter()
    final = transcriber.finish()
    busy += time.perf_counter() - started
    if on_partial is not None and final != last:
        on_partial(final)
    return VoiceResult(final, ended_by, bytes(heard), len(heard) / 2 / sample_rate, busy)
