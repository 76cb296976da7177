"""Microphone audio arriving at this center process, chunk by chunk, in order.

A browser's ``MediaRecorder`` sends one chunk at a time, numbered from 0 (``seq``) under an
id of its own (``recorder``). The first chunk of a recorder starts a new segmenter run in the
process that receives it (a WebM stream can only be read from its start); a chunk sent twice
is ignored, and one that skips a number is refused, so ffmpeg never reads a torn stream.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum

from control_center.errors import Conflict, InvalidInput
from control_center.live.desk import LiveDesk


class Fed(StrEnum):
    FED = "fed"              # written to the segmenter
    DUPLICATE = "duplicate"  # already received: ignored


@dataclass(slots=True)
class _Input:
    recorder: str
    next_seq: int


class MicrophoneInputs:
    """The recorders feeding this process's segmenters, and the chunk each expects next."""

    def __init__(self, desk: LiveDesk) -> None:
        self._desk = desk
        self._lock = threading.Lock()
        self._inputs: dict[str, _Input] = {}

    def feed(self, stream_id: str, *, recorder: str, seq: int, data: bytes) -> Fed:
        """Write chunk ``seq`` of ``recorder`` to the stream's segmenter (started for a new
        recorder's first chunk). Conflict on a gap, InvalidInput when ffmpeg cannot read it."""
        with self._lock:
            current = self._inputs.get(stream_id)
            segmenter = self._desk.segmenter(stream_id)
            if current is None or current.recorder != recorder or segmenter is None:
                if seq != 0:
                    raise Conflict(
                        f"chunk {seq} of recorder {recorder} comes without the chunks before it "
                        "on this server: start the recorder again (its chunks from seq=0)")
                segmenter = self._desk.start_run(stream_id, source_url=None)
                current = self._inputs[stream_id] = _Input(recorder, 0)
            elif seq < current.next_seq:
                return Fed.DUPLICATE
            elif seq > current.next_seq:
                raise Conflict(f"chunk {current.next_seq} is missing (got {seq}): send the "
                               "chunks in order, each once")
            if not segmenter.feed(data):
                self._inputs.pop(stream_id, None)
                problem = segmenter.error() or "the audio encoder stopped"
                self._desk.stop_run(stream_id)
                raise InvalidInput(f"the audio could not be read ({problem}): send "
                                   "audio/webm;codecs=opus or Ogg/Opus chunks from seq=0")
            current.next_seq = seq + 1
            return Fed.FED

    def close(self, stream_id: str) -> None:
        """Forget the stream's recorder and stop its segmenter in this process."""
        with self._lock:
            self._inputs.pop(stream_id, None)
        self._desk.stop_run(stream_id)
