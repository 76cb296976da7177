"""The agents a fault scenario runs: a real agent process (kill -9, netns) or one in-process.

Both write the same two files the tally reads: a ledger of every message made
(``firmware_sim.ledger``) and a play log of every play heard (``firmware_sim.hardware``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_agent.agent import Agent
from edge_agent.clock import Clock
from edge_agent.config import AgentConfig
from firmware_sim.hardware import SimAudioSink, sim_hardware
from firmware_sim.ledger import LedgerFile
from firmware_sim.sensors import SimSensors
from tests.support.netns import Namespace

REPO = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class AgentFiles:
    """Where one device's agent keeps its data and where the harness reads what it did."""

    device_id: str
    config: Path
    data_dir: Path
    ledger: Path
    play_log_dir: Path
    stderr: Path

    @property
    def play_log(self) -> Path:
        return self.play_log_dir / f"{self.device_id}.plays.jsonl"

    @property
    def store(self) -> Path:
        return self.data_dir / "agent.sqlite3"

    def cached(self, sha256: str) -> bool:
        return (self.data_dir / "media" / sha256).is_file()


class AgentProcess:
    """``python -m firmware_sim agent`` with ``--ledger`` and ``--play-log-dir``; optionally
    inside a network namespace (``ip netns exec`` execs it, so the pid is the agent's)."""

    def __init__(self, files: AgentFiles, *, netns: Namespace | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.files = files
        self.netns = netns
        self._extra = tuple(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def device_id(self) -> str:
        return self.files.device_id

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "firmware_sim", "agent", "--config", str(self.files.config),
                "--ledger", str(self.files.ledger), "--play-log-dir",
                str(self.files.play_log_dir), *self._extra]
        return self.netns.command(argv) if self.netns is not None else argv

    def start(self) -> None:
        if self.is_alive():
            raise RuntimeError(f"agent {self.device_id} is already running (pid {self.pid})")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with self.files.stderr.open("ab") as err:
            self.proc = subprocess.Popen(self.argv(), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                         stderr=err, stdin=subprocess.DEVNULL)
        self.starts += 1

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def is_alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """``kill -9``: a power cut as the process sees it (nothing flushed, the will fires)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def terminate(self) -> None:
        """SIGTERM (a clean stop); SIGKILL if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def stderr_tail(self, lines: int = 30) -> str:
        if not self.files.stderr.exists():
            return "(no output)"
        text = self.files.stderr.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


class InProcessAgent:
    """A real :class:`Agent` in this process, with simulated hardware, a given clock and the
    ledger; for scenarios that inject a clock or look at the agent's threads."""

    def __init__(self, files: AgentFiles, config: AgentConfig, *, clock: Clock | None = None,
                 time_scale: float = 1.0) -> None:
        self.files = files
        self.ledger = LedgerFile(files.ledger)
        files.play_log_dir.mkdir(parents=True, exist_ok=True)
        hardware, sink = sim_hardware(config.device_id, files.play_log, time_scale)
        self.sink: SimAudioSink = sink
        self.agent = Agent(config, hardware, clock, probe=SimSensors(config.device_id),
                           ledger=self.ledger)
        self._running = False

    @property
    def device_id(self) -> str:
        return self.files.device_id

    def start(self) -> None:
        self.agent.start()
        self._running = True

    def is_alive(self) -> bool:
        return self._running

    def stop(self) -> None:
        """Clean stop (DISCONNECT, no will)."""
        if self._running:
            self._running = False
            self.agent.stop()
        self.ledger.close()

    def crash(self) -> None:
        """Stop as a power cut looks to the broker (the will fires)."""
        if self._running:
            self._running = False
            self.agent.crash()
        self.ledger.close()
