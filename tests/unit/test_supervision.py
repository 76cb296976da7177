"""Loops that outlive what they did not expect, and systemd's watchdog fed only while they
advance (over a real Unix datagram socket)."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest

from edge_agent.supervision import Backoff, Heartbeats, supervise
from edge_agent.watchdog import Watchdog, notify
from tests.support.waiting import poll


def test_a_failing_loop_is_reported_backs_off_and_runs_again() -> None:
    runs: list[int] = []
    faults: list[tuple[str, str, str]] = []
    waits: list[float] = []

    def body() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError(f"boom {len(runs)}")

    supervise("player", body, stopped=lambda: False, wait=waits.append,
              on_fault=lambda c, e, r: faults.append((c, str(e), r)),
              backoff=Backoff(0.5, 1.0))
    assert len(runs) == 3  # ran again after each failure, then returned normally
    assert [f[:2] for f in faults] == [("player", "boom 1"), ("player", "boom 2")]
    assert waits == [0.5, 1.0]
    assert faults[0][2] == "loop restarted after 0.5 s"


def test_a_failing_fault_report_does_not_end_the_loop() -> None:
    runs: list[int] = []

    def body() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise ValueError("first")

    def broken_report(component: str, exc: BaseException, recovery: str) -> None:
        raise OSError("disk full")

    supervise("downloader", body, stopped=lambda: False, wait=lambda s: None,
              on_fault=broken_report)
    assert len(runs) == 2


def test_a_stopped_loop_is_not_restarted() -> None:
    stop = threading.Event()

    def body() -> None:
        stop.set()
        raise RuntimeError("while stopping")

    supervise("health", body, stopped=stop.is_set, wait=lambda s: None,
              on_fault=lambda c, e, r: None)
    assert stop.is_set()


def test_heartbeat_ages_follow_the_monotonic_clock() -> None:
    now = [100.0]
    beats = Heartbeats(monotonic=lambda: now[0])
    assert beats.age("player") is None
    beats.beat("player")
    now[0] += 42.5
    assert beats.age("player") == 42.5
    assert beats.ages() == {"player": 42.5}


def test_watchdog_pings_only_while_the_loops_advance(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(5)
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "100000"}  # ping every 50 ms
        now = [0.0]
        beats = Heartbeats(monotonic=lambda: now[0])
        beats.beat("player")
        beats.beat("downloader")
        dog = Watchdog(beats, stale_after_s=10, environ=env)
        dog.start()
        try:
            assert server.recv(64) == b"READY=1"
            assert server.recv(64) == b"WATCHDOG=1"
            now[0] = 11.0  # the player has not gone round for 11 s: no more pings
            poll(lambda: dog.withheld, bool, 5, "the watchdog to withhold a ping")
            assert dog.stale() == ["player", "downloader"]
            server.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                while True:
                    server.recv(64)  # pings sent before the stall was seen
            pings = dog.pings
            poll(lambda: dog.withheld, lambda n: n >= 3, 5, "two more withheld periods")
            assert dog.pings == pings
            with pytest.raises(BlockingIOError):
                server.recv(64)
        finally:
            dog.stop()
        server.setblocking(True)
        server.settimeout(5)
        while (message := server.recv(64)) == b"WATCHDOG=1":
            pass
        assert message == b"STOPPING=1"


def test_notify_without_systemd_is_a_no_op() -> None:
    assert notify("READY=1", {}) is False
