"""Press-to-talk: record from the microphone, recognise while the person speaks."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace

from edge_agent.hardware import Microphone
from edge_agent.speech import Grammar, SpeechError, SpeechModel, listen, load_model
from edge_agent.speech.config import SpeechConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VoiceState:
    available: bool
    message: str  # why voice is unavailable, or the last error
    recording: bool = False
    partial: str = ""
    text: str = ""
    done: bool = False
    ended_by: str = ""
    session: int = 0


class VoiceInput:
    """One recording at a time; the last result waits for the citizen to correct it."""

    def __init__(self, config: SpeechConfig, microphone: Microphone | None,
                 model: SpeechModel | None = None) -> None:
        self._config = config
        self._mic = microphone
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.audio: bytes | None = None
        message = ""
        if model is None and microphone is not None:
            try:
                model = load_model(config.model_path, sample_rate=config.sample_rate)
            except SpeechError as exc:
                message = str(exc)
                log.error("voice input unavailable: %s", exc)
        elif microphone is None:
            message = "no microphone configured"
        self.model = model
        self._state = VoiceState(available=model is not None and microphone is not None,
                                 message=message)
        self.changed = threading.Condition(self._lock)

    def state(self) -> VoiceState:
        with self._lock:
            return self._state

    def _set(self, **changes: object) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]
            self.changed.notify_all()

    def start(self, grammar: Grammar | None = None) -> int:
        """Begin a recording (free, or restricted to ``grammar``); returns its session."""
        with self._lock:
            if not self._state.available or self._state.recording:
                return self._state.session
            session = self._state.session + 1
            self._state = replace(self._state, recording=True, partial="", text="", done=False,
                                  ended_by="", session=session)
            self._stop = threading.Event()
        self.audio = None
        self._thread = threading.Thread(target=self._run, args=(grammar,), name="kiosk-voice",
                                        daemon=True)
        self._thread.start()
        return session

    def stop(self) -> None:
        self._stop.set()

    def wait_done(self, session: int, timeout: float) -> VoiceState:
        with self._lock:
            self.changed.wait_for(lambda: self._state.session == session and self._state.done,
                                  timeout)
            return self._state

    def _run(self, grammar: Grammar | None) -> None:
        assert self.model is not None and self._mic is not None
        cfg = self._config
        try:
            result = listen(
                self._mic.chunks(self._stop, cfg.chunk_ms), self.model.transcriber(grammar),
                sample_rate=cfg.sample_rate, silence_s=cfg.silence_s, max_s=cfg.max_s,
                energy_threshold=cfg.energy_threshold, stop=self._stop,
                on_partial=lambda text: self._set(partial=text),
            )
        except Exception as exc:  # a microphone failure must not kill the kiosk
            log.exception("recording failed")
            self._set(recording=False, done=True, ended_by="error", message=str(exc)[:300])
            return
        self.audio = result.audio
        self._set(recording=False, done=True, text=result.text, partial=result.text,
                  ended_by=result.ended_by)
