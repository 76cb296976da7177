"""The agent's launcher (edge_agent/update/launch.py), run as the real process systemd starts,
over tiny fake releases whose ``bin/python`` is a small script: trial bookkeeping, rollback
after repeated crashes and at the deadline, a confirmed trial kept, restarts asked with 75,
SIGTERM forwarded, an interrupted switch settled, and the atomic symlink switch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.update import launch
from edge_agent.update.launch import Layout, Trial, copy_launcher
from tests.support.waiting import wait_until

FAKE_AGENT = '''
import os, signal, sys
from pathlib import Path

VERSION, BEHAVIOUR = {version!r}, {behaviour!r}
root = Path(os.environ["TT_AGENT_ROOT"])
sys.path.insert(0, str(root))
from launch import Layout, Outcome  # the root's copy, as a real release would not do

def log(what):
    with (root / "events.log").open("a") as fh:
        fh.write(f"{{what}} {{VERSION}}\\n")

def stopped(*_):
    log("stopped")
    sys.exit(0)

signal.signal(signal.SIGTERM, stopped)
log("started")
layout = Layout(root)
if BEHAVIOUR == "crash":
    print(f"Traceback: boom in {{VERSION}}", file=sys.stderr)
    sys.exit(1)
if BEHAVIOUR == "exit-3":
    sys.exit(3)
if BEHAVIOUR == "restart-once" and not (root / "restarted").exists():
    (root / "restarted").touch()
    sys.exit(75)
if BEHAVIOUR == "confirm":
    with layout.editing() as state:
        t = state.trial
        state.last = Outcome(version=t.version, from_version=t.from_version,
                             result="confirmed", reason="healthy", at=0.0,
                             started_at=t.started_at)
        state.trial = None
if BEHAVIOUR == "lacking":
    with layout.editing() as state:
        state.trial.waiting_for = "no manifest verified"
log("serving")
while True:
    signal.pause()
'''


def make_release(layout: Layout, version: str, behaviour: str) -> None:
    folder = layout.release_dir(version)
    (folder / "bin").mkdir(parents=True)
    agent = folder / "fake_agent.py"
    agent.write_text(FAKE_AGENT.format(version=version, behaviour=behaviour))
    python = folder / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} {agent} "$@"\n')
    python.chmod(0o755)


def open_trial(layout: Layout, version: str, from_version: str, *, within_s: float = 60.0,
               attempts: int = 0) -> None:
    with layout.editing() as state:
        state.trial = Trial(version=version, from_version=from_version,
                            deadline=time.time() + within_s, confirm_within_s=within_s,
                            started_at=time.time(), rollout_id=7, command_id="cmd-1",
                            attempts=attempts)
    layout.point(layout.previous, from_version)
    layout.point(layout.current, version)


class LauncherProcess:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        self.log = layout.root / "launcher.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(layout.launcher), "--root", str(layout.root), "--",
                 "--config", "/nowhere.json"], env=env, stderr=log)

    def events(self) -> list[str]:
        path = self.layout.root / "events.log"
        return path.read_text().splitlines() if path.exists() else []

    def wait_event(self, event: str, count: int = 1) -> None:
        wait_until(lambda: self.events().count(event) >= count or self.proc.poll() is not None,
                   15, f"{event!r} x{count}")
        assert self.events().count(event) >= count, (self.events(), self.stderr())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)

    def stderr(self) -> str:
        return self.log.read_text()


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[Layout]:
    layout = Layout(tmp_path / "root")
    layout.releases.mkdir(parents=True)
    copy_launcher(layout, Path(launch.__file__))
    yield layout


@pytest.fixture
def running(layout: Layout) -> Iterator[list[LauncherProcess]]:
    started: list[LauncherProcess] = []
    yield started
    for each in started:
        if each.proc.poll() is None:
            each.proc.kill()
            each.proc.wait()


def start(layout: Layout, running: list[LauncherProcess]) -> LauncherProcess:
    proc = LauncherProcess(layout)
    running.append(proc)
    return proc


def test_a_crashing_trial_is_rolled_back_after_three_starts(
        layout: Layout, running: list[LauncherProcess]) -> None:
    make_release(layout, "1.0", "serve")
    make_release(layout, "1.1", "crash")
    open_trial(layout, "1.1", "1.0")
    launcher = start(layout, running)
    launcher.wait_event("serving 1.0")
    assert launcher.events()[:3] == ["started 1.1"] * 3
    last = layout.read_state().last
    assert last is not None and layout.read_state().trial is None
    assert last.result == "rolled_back" and last.version == "1.1" and last.rollout_id == 7
    assert "started three times and exited each time" in last.reason
    assert "exited 1: Traceback: boom in 1.1" in last.reason
    assert layout.current_version() == "1.0" and layout.previous_version() is None
    assert launcher.stop() == 0
    assert launcher.events()[-1] == "stopped 1.0"


def test_an_unconfirmed_trial_is_rolled_back_at_its_deadline_with_what_it_lacked(
        layout: Layout, running: list[LauncherProcess]) -> None:
    make_release(layout, "1.0", "serve")
    make_release(layout, "1.1", "lacking")
    # 3 s: the trial's clock runs from here, so starting the launcher and the fake agent on a
    # busy worker must not use the whole window before "serving 1.1" is seen
    opened = time.time()
    open_trial(layout, "1.1", "1.0", within_s=3.0)
    launcher = start(layout, running)
    launcher.wait_event("serving 1.0")
    assert launcher.events() == ["started 1.1", "serving 1.1", "stopped 1.1", "started 1.0",
                                 "serving 1.0"]
    last = layout.read_state().last
    assert last is not None and last.result == "rolled_back"
    assert last.reason == "not healthy within 3 s: no manifest verified"
    assert last.launched_at is not None and last.at >= opened + 3.0  # not before its deadline
    assert layout.current_version() == "1.0"
    launcher.stop()


def test_a_confirmed_trial_is_kept_past_its_deadline(
        layout: Layout, running: list[LauncherProcess]) -> None:
    make_release(layout, "1.0", "serve")
    make_release(layout, "1.1", "confirm")
    open_trial(layout, "1.1", "1.0", within_s=1.0)
    launcher = start(layout, running)
    launcher.wait_event("serving 1.1")
    deadline = time.time() + 1.5
    wait_until(lambda: time.time() > deadline, 3, "the trial's deadline to pass")
    assert launcher.proc.poll() is None
    assert launcher.events() == ["started 1.1", "serving 1.1"]
    state = layout.read_state()
    assert state.trial is None and state.last is not None and state.last.result == "confirmed"
    assert layout.current_version() == "1.1" and layout.previous_version() == "1.0"
    assert launcher.stop() == 0


def test_exit_75_is_a_restart_and_another_exit_ends_the_launcher(
        layout: Layout, running: list[LauncherProcess]) -> None:
    make_release(layout, "1.0", "restart-once")
    layout.point(layout.current, "1.0")
    launcher = start(layout, running)
    launcher.wait_event("serving 1.0")
    assert launcher.events() == ["started 1.0", "started 1.0", "serving 1.0"]
    assert launcher.stop() == 0

    make_release(layout, "2.0", "exit-3")
    layout.point(layout.current, "2.0")
    ended = start(layout, running)
    assert ended.proc.wait(timeout=15) == 3  # outside a trial systemd restarts the launcher
    assert ended.events().count("started 2.0") == 1


def test_sigterm_during_a_trial_stops_the_agent_without_counting_a_start(
        layout: Layout, running: list[LauncherProcess]) -> None:
    make_release(layout, "1.0", "serve")
    make_release(layout, "1.1", "serve")
    open_trial(layout, "1.1", "1.0", attempts=2)
    launcher = start(layout, running)
    launcher.wait_event("serving 1.1")
    trial = layout.read_state().trial
    assert trial is not None and trial.attempts == 3 and trial.launched_at is not None
    assert launcher.stop() == 0
    assert launcher.events()[-1] == "stopped 1.1"
    trial = layout.read_state().trial
    assert trial is not None and trial.attempts == 2  # a service stop is not a failed start


def test_a_trial_whose_switch_never_happened_is_closed_and_the_old_version_runs(
        layout: Layout, running: list[LauncherProcess]) -> None:
    make_release(layout, "1.0", "serve")
    make_release(layout, "1.1", "serve")
    open_trial(layout, "1.1", "1.0")
    layout.point(layout.current, "1.0")  # as a power cut between the trial and the switch
    launcher = start(layout, running)
    launcher.wait_event("serving 1.0")
    last = layout.read_state().last
    assert last is not None and last.result == "rolled_back"
    assert "the switch to 1.1 did not happen" in last.reason
    assert "started 1.1" not in launcher.events()
    launcher.stop()


def test_the_symlink_switch_never_shows_a_missing_link(layout: Layout) -> None:
    layout.release_dir("a").mkdir()
    layout.release_dir("b").mkdir()
    layout.point(layout.current, "a")
    seen: set[str | None] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(layout.current_version())

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(400):
        layout.point(layout.current, "b" if i % 2 == 0 else "a")
    done.set()
    reader.join()
    assert seen == {"a", "b"}  # never None: the link is replaced, never removed first
    assert os.readlink(layout.current) == "releases/a"
