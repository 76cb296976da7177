"""The agent's live capture against a small real HTTP server: chunks go in order under one
recorder, a failed POST is sent again with the same seq, a center that keeps failing makes
the capture give up with a fault, 409 ends it quietly and 403 with a fault."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from edge_agent.clock import SystemClock
from edge_agent.live.capture import CaptureConfig, LiveCaptures
from firmware_sim.microphone import WavMicrophone
from protocol.events import CommandOutcome
from protocol.manifest import Command, LiveCapture
from tests.support.audio import make_tone
from tests.support.waiting import wait_until

STREAM = "cd" * 16
TOKEN = "s" * 32


class Center:
    """Answers each POST from ``script`` (status codes, the last one repeated)."""

    def __init__(self, script: list[int]) -> None:
        self.script = script
        self.calls: list[tuple[int, str, int, str]] = []  # seq, recorder, bytes, token
        self.lock = threading.Lock()

    def answer(self) -> int:
        with self.lock:
            return self.script[min(len(self.calls) - 1, len(self.script) - 1)]


@pytest.fixture
def center() -> Iterator[tuple[Center, str]]:
    state = Center([200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            query = parse_qs(urlparse(self.path).query)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.calls.append((int(query["seq"][0]), query["recorder"][0], len(body),
                                    self.headers["Authorization"]))
            status = state.answer()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}/api/v1/live/{STREAM}"
    server.shutdown()
    server.server_close()


def _capture(url: str, wav: Path, script: list[int], center: Center
             ) -> tuple[LiveCaptures, list[tuple[str, str]], list[str]]:
    center.script = script
    acks: list[tuple[str, str]] = []
    faults: list[str] = []
    mic = WavMicrophone(48_000, realtime=True, trailing_silence_s=0.0)
    mic.say(wav)
    captures = LiveCaptures(
        device_id="loa-nguon", microphone=mic, clock=SystemClock(),
        ack=lambda cid, outcome, reason: acks.append((cid, outcome.value)),
        on_fault=lambda component, exc, _: faults.append(f"{component}: {exc}"),
        config=CaptureConfig(retry_s=0.02))
    now = datetime.now(UTC)
    action = LiveCapture(stream_id=STREAM, url=url, token=TOKEN, until=now + timedelta(seconds=2))
    captures.take(Command(id="c1", device_id="loa-nguon", issued_at=now,
                          expires_at=action.until, action=action), action)
    return captures, acks, faults


def _wait_ended(captures: LiveCaptures) -> None:
    wait_until(lambda: captures.current is None, 10, "the capture ended")


def test_chunks_go_in_order_and_a_failed_one_is_sent_again(
        center: tuple[Center, str], tmp_path: Path) -> None:
    state, url = center
    wav = make_tone(tmp_path / "tone.wav", 1.0, 440)
    captures, acks, faults = _capture(url, wav, [503, 503, 200], state)
    assert acks == [("c1", CommandOutcome.ACCEPTED.value)]
    _wait_ended(captures)  # ``until`` (2 s) passes
    seqs = [c[0] for c in state.calls]
    assert seqs[:3] == [0, 0, 0] and seqs[2:] == list(range(len(seqs) - 2)), seqs
    assert len(seqs) >= 6, seqs  # a page about every 250 ms for two seconds
    assert {c[1] for c in state.calls} == {state.calls[0][1]}  # one recorder
    assert {c[3] for c in state.calls} == {f"Bearer {TOKEN}"}
    assert faults == []


@pytest.mark.parametrize(("script", "fault"), [
    ([503], "chunk 0 not sent after 4 tries"),
    ([200, 403], "refused chunk 1 (403)"),
    ([200, 200, 409], None),
])
def test_the_capture_stops_on_the_centers_answer(
        center: tuple[Center, str], tmp_path: Path, script: list[int], fault: str | None) -> None:
    state, url = center
    wav = make_tone(tmp_path / "tone.wav", 5.0, 440)
    captures, _, faults = _capture(url, wav, script, state)
    _wait_ended(captures)
    assert len(state.calls) == (4 if script == [503] else len(script))
    if fault is None:
        assert faults == []
    else:
        assert len(faults) == 1 and fault in faults[0], faults
