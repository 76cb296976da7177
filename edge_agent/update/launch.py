"""The agent's launcher: runs the current release, and rolls back an update that does not confirm.

STANDALONE: the standard library only, no project import, so that it works whatever release
is current. It is what systemd starts (a copy of this file at the managed root)::

    python3 /opt/tt-agent/launch.py --root /opt/tt-agent -- --config /etc/tt-agent.json

The managed root holds ``releases/<version>/`` (one virtual environment per agent version),
``current`` and ``previous`` (symlinks to release directories), ``state.json`` (the open trial
of an update and the result of the last one; read and written under ``state.lock``) and this
``launch.py``. The agent switches ``current`` to a new release after opening a trial, then
exits with 75 (restart wanted); the launcher starts ``releases/<current>/bin/python -I -m
edge_agent <agent args>`` again at once, in its own loop (exit 75 never reaches systemd).

While a trial is open, every start of the trial version counts as an attempt. The launcher
rolls back (``current`` back to the version the trial came from) when the trial version was
started ``max_attempts`` times and exited each time, or when the trial's deadline passes
before the agent wrote its confirmation; the result and its reason are recorded in
``state.json`` for the old version to report. Outside a trial, SIGTERM is forwarded to the
agent and the launcher exits with the agent's code (systemd's ``Restart=always`` starts it
again); a stop during a trial does not count as an attempt.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import FrameType
from typing import IO, Any

DEFAULT_ROOT = Path("/opt/tt-agent")
ROOT_ENV = "TT_AGENT_ROOT"
EXIT_RESTART = 75  # the agent's "start me again" (EX_TEMPFAIL)
MAX_ATTEMPTS = 3
STOP_GRACE_S = 20.0  # a child asked to stop is killed after this
QUICK_EXIT_S = 10.0  # a restart asked for sooner than this after the start is paced
RESULT_CONFIRMED = "confirmed"
RESULT_ROLLED_BACK = "rolled_back"


@dataclass(slots=True)
class Trial:
    """An update switched to and not yet confirmed healthy."""

    version: str
    from_version: str
    deadline: float  # wall-clock instant by which the agent must confirm
    confirm_within_s: float
    started_at: float  # when the update command was taken (wall clock)
    rollout_id: int | None = None
    command_id: str = ""
    attempts: int = 0  # starts of the trial version so far
    launched_at: float | None = None  # first start of the trial version
    waiting_for: str = ""  # what the new version's health check still lacks (its own words)
    last_exit: str = ""  # how the last start of the trial version ended
    rollback_reason: str = ""  # set once a rollback has begun


@dataclass(slots=True)
class Outcome:
    """How the last trial ended."""

    version: str
    from_version: str
    result: str  # RESULT_CONFIRMED or RESULT_ROLLED_BACK
    reason: str
    at: float
    started_at: float
    launched_at: float | None = None
    rollout_id: int | None = None
    command_id: str = ""
    reported: bool = False  # the UpdateReport of this outcome is in the agent's outbox

    @property
    def duration_ms(self) -> int:
        return max(0, round((self.at - self.started_at) * 1000))


@dataclass(slots=True)
class State:
    trial: Trial | None = None
    last: Outcome | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys of a newer version, kept


def _build(cls: type[Any], data: object) -> Any:
    if not isinstance(data, dict):
        return None
    known = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in known})
    except TypeError:
        return None


def state_from_json(text: str) -> State:
    """Parse ``state.json``; an unreadable file is an empty state (nothing in trial)."""
    try:
        data = json.loads(text)
    except ValueError:
        return State()
    if not isinstance(data, dict):
        return State()
    extra = {k: v for k, v in data.items() if k not in ("trial", "last")}
    return State(trial=_build(Trial, data.get("trial")), last=_build(Outcome, data.get("last")),
                 extra=extra)


def state_to_json(state: State) -> str:
    data: dict[str, Any] = dict(state.extra)
    data["trial"] = asdict(state.trial) if state.trial else None
    data["last"] = asdict(state.last) if state.last else None
    return json.dumps(data, indent=1, sort_keys=True)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that a reader or a power cut sees old or new, whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Layout:
    """The managed root's paths, its symlink switch and its state file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.releases = root / "releases"
        self.current = root / "current"
        self.previous = root / "previous"
        self.state_file = root / "state.json"
        self.lock_file = root / "state.lock"
        self.launcher = root / "launch.py"

    def release_dir(self, version: str) -> Path:
        return self.releases / version

    def version_of(self, link: Path) -> str | None:
        """The release a symlink points to (its directory's name), or None."""
        try:
            target = os.readlink(link)
        except OSError:
            return None
        return Path(target).name or None

    def current_version(self) -> str | None:
        return self.version_of(self.current)

    def previous_version(self) -> str | None:
        return self.version_of(self.previous)

    def point(self, link: Path, version: str) -> None:
        """Make ``link`` point to ``releases/<version>``: a new link renamed over the old one
        (rename is atomic: a reader sees the old target or the new one, never no link)."""
        tmp = link.with_name(f".{link.name}.new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(Path("releases") / version, tmp)
        os.replace(tmp, link)
        fsync_dir(link.parent)

    def unlink(self, link: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
            fsync_dir(link.parent)

    @contextlib.contextmanager
    def editing(self) -> Iterator[State]:
        """Read-modify-write of ``state.json`` under an exclusive lock (the agent and the
        launcher both write it); the state is written back when the block ends normally."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self.lock_file.open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                state = self.read_state()
                before = state_to_json(state)
                yield state
                after = state_to_json(state)
                if after != before:
                    write_atomic(self.state_file, after.encode())
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def read_state(self) -> State:
        try:
            return state_from_json(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return State()


def notify(message: str) -> None:
    """One sd_notify datagram (systemd's unit has NotifyAccess=all: the agent sends READY and
    WATCHDOG itself; the launcher sends STATUS and pings while it works between agents)."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, \
            contextlib.suppress(OSError):
        sock.sendto(message.encode(), address)


def log(message: str) -> None:
    print(f"launch: {message}", file=sys.stderr, flush=True)


class _StderrTail:
    """Copies the child's stderr to ours (the journal) and keeps its last non-empty line."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.last_line = ""
        self._stream = stream
        self._thread = threading.Thread(target=self._run, name="stderr-tail", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        out = sys.stderr.buffer
        for raw in iter(self._stream.readline, b""):
            with contextlib.suppress(OSError, ValueError):
                out.write(raw)
                out.flush()
            line = raw.decode(errors="replace").strip()
            if line:
                self.last_line = line[-300:]

    def join(self, timeout: float = 5.0) -> str:
        self._thread.join(timeout)
        return self.last_line


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited {code}"


class Launcher:
    """Runs the agent of the current release until stopped; rolls back failed trials."""

    def __init__(self, layout: Layout, agent_args: Sequence[str], *,
                 max_attempts: int = MAX_ATTEMPTS, stop_grace_s: float = STOP_GRACE_S) -> None:
        self.layout = layout
        self.agent_args = list(agent_args)
        self.max_attempts = max_attempts
        self.stop_grace_s = stop_grace_s
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self._restart_delay = 0.0
        self.rolled_back = False

    # signals -------------------------------------------------------------------------------
    def install_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    # the loop ------------------------------------------------------------------------------
    def run(self) -> int:
        """Start the agent again and again as the rules say; return the exit code."""
        while True:
            self.settle()
            version = self.layout.current_version()
            if version is None or not self.layout.release_dir(version).is_dir():
                log(f"no current release under {self.layout.root}: install one first")
                return 1
            trial = self._begin_attempt(version)
            if trial is None and self._trial_ends_now(version):
                continue  # rolled back: start the old version
            self.rolled_back = False
            began = time.monotonic()
            code, last_line = self._run_child(version, trial)
            if self.stopping.is_set():
                if trial is not None:
                    self._undo_attempt(version)
                return exit_status(code)
            if self._open_trial(version) is not None:
                how = describe_exit(code)
                self._note_exit(version, f"{how}: {last_line}" if last_line else how)
                continue  # counted; the next round rolls back once the starts are used up
            if self.rolled_back:
                continue
            if code == EXIT_RESTART:
                if self.layout.current_version() == version:  # not a switch: pace restarts
                    self._pause_if_quick(time.monotonic() - began)
                continue
            log(f"agent {describe_exit(code)}; the launcher exits (systemd restarts it)")
            return exit_status(code)

    def _pause_if_quick(self, lived_s: float) -> None:
        """A restart asked for at once again and again waits longer each time (0.5 s up to
        30 s); an agent that ran a while restarts without delay."""
        if lived_s >= QUICK_EXIT_S:
            self._restart_delay = 0.0
            return
        self._restart_delay = min(max(self._restart_delay * 2, 0.5), 30.0)
        log(f"agent asked to restart after {lived_s:.1f} s; waiting {self._restart_delay} s")
        self.stopping.wait(self._restart_delay)

    def settle(self) -> None:
        """Finish a rollback a power cut interrupted, or record a switch that never happened
        (a trial open while ``current`` is not the trial version)."""
        state = self.layout.read_state()
        trial = state.trial
        if trial is None:
            return
        current = self.layout.current_version()
        if trial.rollback_reason:
            self._finish_rollback(trial.version, trial.rollback_reason)
        elif current != trial.version:
            self._finish_rollback(trial.version, f"the switch to {trial.version} did not happen "
                                  f"(interrupted); {current} kept")

    def _open_trial(self, version: str) -> Trial | None:
        trial = self.layout.read_state().trial
        if trial is not None and trial.version == version and not trial.rollback_reason:
            return trial
        return None

    def _begin_attempt(self, version: str) -> Trial | None:
        """Count a start of the trial version; None when not in a trial or out of attempts."""
        with self.layout.editing() as state:
            trial = state.trial
            if trial is None or trial.version != version or trial.rollback_reason:
                return None
            if trial.attempts >= self.max_attempts or self._remaining(trial) <= 0:
                return None
            trial.attempts += 1
            if trial.launched_at is None:
                trial.launched_at = time.time()
            log(f"trial of {version}: start {trial.attempts} of {self.max_attempts}")
            notify(f"STATUS=trial of {version} (start {trial.attempts}/{self.max_attempts})")
            return Trial(**asdict(trial))

    def _trial_ends_now(self, version: str) -> bool:
        """Roll back a trial out of attempts or past its deadline; True if it rolled back."""
        trial = self._open_trial(version)
        if trial is None:
            return False
        if trial.attempts >= self.max_attempts:
            reason = f"{describe_attempts(trial.attempts)}: {trial.last_exit or 'no exit seen'}"
        else:
            reason = self._unhealthy_reason(trial)
        return self.roll_back(version, reason)

    def _note_exit(self, version: str, how: str) -> None:
        with self.layout.editing() as state:
            if state.trial is not None and state.trial.version == version:
                state.trial.last_exit = how[:300]
        log(f"trial version {version} {how}")

    def _undo_attempt(self, version: str) -> None:
        with self.layout.editing() as state:
            trial = state.trial
            if trial is not None and trial.version == version and trial.attempts > 0:
                trial.attempts -= 1

    @staticmethod
    def _remaining(trial: Trial) -> float:
        """Seconds left to confirm (never more than the whole window: a clock set back later
        must not stretch it)."""
        return min(trial.deadline - time.time(), trial.confirm_within_s)

    @staticmethod
    def _unhealthy_reason(trial: Trial) -> str:
        lacking = trial.waiting_for or "the new version never reported its health"
        return f"not healthy within {trial.confirm_within_s:.0f} s: {lacking}"

    # the child -----------------------------------------------------------------------------
    def command(self, version: str) -> list[str]:
        python = self.layout.release_dir(version) / "bin" / "python"
        return [str(python), "-I", "-m", "edge_agent", *self.agent_args]

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env[ROOT_ENV] = str(self.layout.root)
        return env

    def _run_child(self, version: str, trial: Trial | None) -> tuple[int, str]:
        """Run the agent of ``version`` until it exits; during a trial, roll back at the
        deadline unless the agent confirmed. Returns (exit code, its last stderr line)."""
        log(f"starting agent {version}")
        notify("WATCHDOG=1")
        child = subprocess.Popen(self.command(version), cwd=self.layout.root,
                                 env=self._environment(), stdin=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        self.child = child
        assert child.stderr is not None
        tail = _StderrTail(child.stderr)
        if self.stopping.is_set():  # a signal raced the start
            child.terminate()
        while True:
            timeout = self._remaining(trial) if trial is not None else None
            try:
                code = child.wait(timeout=max(0.0, timeout) if timeout is not None else None)
                break
            except subprocess.TimeoutExpired:
                assert trial is not None
                current = self._open_trial(version)
                if current is None:
                    trial = None  # confirmed (or rolled back elsewhere): no deadline any more
                    continue
                self.roll_back(version, self._unhealthy_reason(current))
                trial = None
        self.child = None
        return code, tail.join()

    def _stop_child(self) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(timeout=self.stop_grace_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    # rollback ------------------------------------------------------------------------------
    def roll_back(self, version: str, reason: str) -> bool:
        """Mark the trial as rolling back (the agent can no longer confirm it), stop the
        agent, switch ``current`` back, then record the outcome. False when the trial was
        confirmed meanwhile."""
        with self.layout.editing() as state:
            trial = state.trial
            if trial is None or trial.version != version:
                return False
            if not trial.rollback_reason:
                trial.rollback_reason = reason[:480]
        log(f"rolling back from {version}: {reason}")
        notify(f"STATUS=rolling back from {version}")
        self._stop_child()
        self._finish_rollback(version, reason)
        self.rolled_back = True
        return True

    def _finish_rollback(self, version: str, reason: str) -> None:
        with self.layout.editing() as state:
            trial = state.trial
            if trial is None or trial.version != version:
                return
            old = trial.from_version
            if self.layout.release_dir(old).is_dir():
                self.layout.point(self.layout.current, old)
            self.layout.unlink(self.layout.previous)  # it pointed to the old one, now current
            state.last = Outcome(
                version=version, from_version=old, result=RESULT_ROLLED_BACK,
                reason=(trial.rollback_reason or reason)[:480], at=time.time(),
                started_at=trial.started_at, launched_at=trial.launched_at,
                rollout_id=trial.rollout_id, command_id=trial.command_id)
            state.trial = None
        notify("WATCHDOG=1")


def exit_status(code: int) -> int:
    """The launcher's own exit status for a child's return code (128 + signal if killed)."""
    return code if code >= 0 else 128 - code


def describe_attempts(n: int) -> str:
    words = {1: "once", 2: "twice", 3: "three times"}
    return f"started {words.get(n, f'{n} times')} and exited each time"


def copy_launcher(layout: Layout, source: Path | None = None) -> bool:
    """Install this file as the root's ``launch.py`` (atomic); False if already the same."""
    data = (source or Path(__file__)).read_bytes()
    with contextlib.suppress(FileNotFoundError):
        if layout.launcher.read_bytes() == data:
            return False
    write_atomic(layout.launcher, data)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="launch.py", description="Run the current agent release; roll back failed updates.",
        epilog="Everything after -- is passed to `python -m edge_agent`.")
    parser.add_argument("--root", type=Path,
                        default=Path(os.environ.get(ROOT_ENV, str(DEFAULT_ROOT))),
                        help=f"managed root (default ${ROOT_ENV} or {DEFAULT_ROOT})")
    parser.add_argument("--max-attempts", type=int, default=MAX_ATTEMPTS,
                        help="starts of a trial version before it is rolled back")
    parser.add_argument("agent_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    agent_args = list(args.agent_args)
    if agent_args[:1] == ["--"]:
        agent_args = agent_args[1:]
    launcher = Launcher(Layout(args.root.absolute()), agent_args,
                        max_attempts=max(1, args.max_attempts))
    launcher.install_signals()
    return launcher.run()


if __name__ == "__main__":
    sys.exit(main())
