"""Live audio through ALSA: AlsaPcmSink feeds aplay raw samples; ALSA's ``file`` plugin keeps
what it was given, compared here with what was written."""

from __future__ import annotations

import array
import math
import threading
import time
import wave
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.alsa_live import AlsaPcmSink
from tests.pi.conftest import DEVICE, AlsaFiles, need

pytestmark = pytest.mark.integration
RATE = 48_000


def tone(seconds: float, hz: float) -> bytes:
    return array.array("h", (int(9_000 * math.sin(2 * math.pi * hz * i / RATE))
                             for i in range(int(RATE * seconds)))).tobytes()


def test_contiguous_blocks_reach_alsa_unchanged_after_the_silence_up_to_their_instant(
        alsa_files: AlsaFiles) -> None:
    need("aplay", "alsa-utils")
    sink = AlsaPcmSink(DEVICE)
    cancel = threading.Event()
    first = datetime.now(UTC) + timedelta(seconds=0.6)
    blocks = [tone(0.1, 440), tone(0.1, 660), tone(0.1, 880)]
    began = []
    at = first
    for pcm in blocks:
        began.append(sink.write(pcm, at=at, cancel=cancel))
        at += timedelta(seconds=0.1)
    sink.close()
    assert began[0] is not None and abs((began[0] - first).total_seconds()) < 0.02
    for k, b in enumerate(began[1:], start=1):  # the card's clock goes on from the first
        assert b is not None and abs((b - began[0]).total_seconds() - 0.1 * k) < 1e-3
    with wave.open(str(alsa_files.named), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
        written = w.readframes(w.getnframes())
    sent = b"".join(blocks)
    lead = written.find(sent[:2000])
    assert lead >= 0 and not any(written[:lead]), "silence, then the samples"
    assert written[lead:lead + len(sent)] == sent
    # the silence put the first sample at its instant: it lasted about until then
    assert 0.2 < lead / 2 / RATE < 0.45


def test_a_stop_before_the_instant_plays_nothing(alsa_files: AlsaFiles) -> None:
    need("aplay", "alsa-utils")
    sink = AlsaPcmSink(DEVICE)
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    assert sink.write(tone(0.1, 440), at=datetime.now(UTC) + timedelta(seconds=5),
                      cancel=cancel) is None
    assert time.monotonic() - started < 1
    sink.close()
    assert not alsa_files.named.exists()
