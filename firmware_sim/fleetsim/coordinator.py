"""Starts the worker processes and gathers their reports: what the benchmark waits on.

Every report carries the time (``time.time()``) at which a device stored a manifest,
connected or played, so completion is measured from the devices' side without polling the
center.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FDS_PER_DEVICE = 4  # the socket, the store's database, -wal and -shm files
FD_BUDGET = 16000  # of the 20,000 a process may open here
CONNECTS_IN_FLIGHT = 96  # all processes together: under Mosquitto's listen backlog (100),
# past which SYNs are dropped and each waits for TCP's 1 s retransmission


def connects_per_process(processes: int) -> int:
    return max(8, CONNECTS_IN_FLIGHT // processes)


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    device: str
    outcome: str  # accepted, replay, stale, refused
    version: int
    received: float
    done: float
    cpu_s: float
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlayRecord:
    device: str
    item_id: str
    at: float


def default_workers(devices: int) -> int:
    """One per core, more when the devices' file descriptors would not fit in fewer."""
    by_fds = -(-devices * FDS_PER_DEVICE // FD_BUDGET)
    return max(os.cpu_count() or 1, by_fds)


class _Worker:
    def __init__(self, spec: Path, log: Path, on_line: Callable[[dict[str, Any]], None]) -> None:
        self._on_line = on_line
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "firmware_sim.fleetsim.worker", str(spec)], cwd=REPO,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)})
        self.ready: dict[str, Any] | None = None
        self.stopped: dict[str, Any] | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            if event["ev"] == "ready":
                self.ready = event
            elif event["ev"] == "stopped":
                self.stopped = event
            self._on_line(event)
        self._on_line({"ev": "exit"})


class Fleet:
    """``devices`` ([(id, password)]) spread over ``workers`` processes."""

    def __init__(self, devices: Sequence[tuple[str, str]], *, host: str, port: int,
                 public_keys: Sequence[str], store_dir: Path, work_dir: Path,
                 workers: int | None = None) -> None:
        self.devices = [d for d, _ in devices]
        self._cond = threading.Condition()
        self.manifests: list[ManifestRecord] = []
        self.connects: list[tuple[str, float]] = []
        self.plays: list[PlayRecord] = []
        self.acked = 0
        count = workers or default_workers(len(devices))
        self._workers: list[_Worker] = []
        work_dir.mkdir(parents=True, exist_ok=True)
        store_dir.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            spec = work_dir / f"fleet-worker-{index}.json"
            spec.write_text(json.dumps({
                "host": host, "port": port, "public_keys": list(public_keys),
                "store_dir": str(store_dir), "devices": [list(d) for d in devices[index::count]],
                "connects_in_flight": connects_per_process(count),
            }), encoding="utf-8")
            self._workers.append(_Worker(spec, work_dir / f"fleet-worker-{index}.log",
                                         self._take))

    @property
    def worker_count(self) -> int:
        return len(self._workers)

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers]

    def _take(self, event: dict[str, Any]) -> None:
        with self._cond:
            if event["ev"] == "batch":
                self.manifests += [ManifestRecord(d, o, v, r, t, c, tuple(i))
                                   for d, o, v, r, t, c, i in event["manifests"]]
                self.connects += [(d, t) for d, t in event["conns"]]
                self.plays += [PlayRecord(d, i, t) for d, i, t in event["plays"]]
                self.acked += event["acked"]
            self._cond.notify_all()

    def wait_until(self, done: Callable[[], bool], timeout: float, what: str,
                   progress: Callable[[], str] | None = None) -> None:
        """Block until ``done()`` (called under the lock) holds; a progress line every 5 s."""
        deadline = time.monotonic() + timeout
        next_line = time.monotonic() + 5
        with self._cond:
            while not done():
                if any(w.proc.poll() is not None for w in self._workers):
                    raise RuntimeError(f"a fleet worker exited while waiting for {what}")
                now = time.monotonic()
                if now >= deadline:
                    raise TimeoutError(f"fleet: no {what} within {timeout:.0f} s"
                                       + (f" ({progress()})" if progress else ""))
                if progress is not None and now >= next_line:
                    print(f"  ... {progress()}", flush=True)
                    next_line = now + 5
                self._cond.wait(min(1.0, deadline - now))

    def start(self, timeout: float = 300.0) -> dict[str, Any]:
        """Wait until every device connected once; the workers' ready reports summed."""
        self.wait_until(lambda: all(w.ready for w in self._workers), timeout, "ready",
                        lambda: f"{len({d for d, _ in self.connects})} connected")
        ready = [w.ready for w in self._workers if w.ready]
        return {"connect_s": max(r["connect_s"] for r in ready),
                "rss_kb": sum(r["rss"] for r in ready),
                "stores_rss_kb": sum(r["rss_stores"] - r["rss_before"] for r in ready),
                "stores_open_cpu_s": sum(r["stores_open_cpu_s"] for r in ready)}

    def rss_kb(self) -> int:
        total = 0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/status", encoding="ascii") as status:
                    total += next(int(line.split()[1]) for line in status
                                  if line.startswith("VmRSS:"))
            except (OSError, StopIteration):
                pass
        return total

    def stop(self, timeout: float = 30.0) -> None:
        for worker in self._workers:
            if worker.proc.poll() is None and worker.proc.stdin is not None:
                try:
                    worker.proc.stdin.write("stop\n")
                    worker.proc.stdin.flush()
                except OSError:
                    pass
        for worker in self._workers:
            try:
                worker.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()
