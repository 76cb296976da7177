"""A server run as a child process on 127.0.0.1, for tests, the demo and the benchmarks.

What :mod:`firmware_sim.broker`, :mod:`firmware_sim.influx` and
:mod:`firmware_sim.center_process` share: free loopback ports, the process's output in a log
file in its data directory, a bounded wait until it answers (or an error with the tail of its
log), SIGTERM then SIGKILL to stop it, and the context-manager protocol.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_PORT_ATTEMPTS = 3  # a port that was free can be taken before the server binds it


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class LocalServer:
    """One server process with its files in ``data_dir``.

    A subclass names the server, writes its config and starts it with :meth:`_spawn` in
    :meth:`_launch`, and probes it once in :meth:`_ready`. One whose ports are picked at start
    overrides :meth:`_ports_fixed` and :meth:`_pick_ports`; ``restart()`` keeps the ports.
    """

    name: ClassVar[str]
    error: ClassVar[type[RuntimeError]] = RuntimeError
    output_file: ClassVar[str]  # in data_dir: the process's stdout and stderr
    poll_interval: ClassVar[float] = 0.05  # seconds between readiness probes
    host: str = LOOPBACK

    def __init__(self, data_dir: Path, *, start_timeout: float, stop_timeout: float) -> None:
        self._data_dir = Path(data_dir).resolve()
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- what a subclass says ------------------------------------------------------------

    def _prepare(self) -> None:
        """Once before the first attempt to start."""
        self._data_dir.mkdir(parents=True, exist_ok=True)

    def _ports_fixed(self) -> bool:
        return True

    def _pick_ports(self) -> None:
        """Choose free ports (only called when :meth:`_ports_fixed` is false)."""

    def _launch(self) -> subprocess.Popen[bytes]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def _log_paths(self) -> Sequence[Path]:
        return (self._data_dir / self.output_file,)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the server and return once it answers; retry if a picked port was taken."""
        if self.running:
            raise self.error(f"{self.name} already running on {self.url}")
        self._prepare()
        fixed = self._ports_fixed()
        attempts = 1 if fixed else _PORT_ATTEMPTS
        for attempt in range(attempts):
            if not fixed:
                self._pick_ports()
            self._proc = self._launch()
            if self._wait_ready():
                logger.info("%s started on %s (data %s)", self.name, self.url, self._data_dir)
                return
            if attempt + 1 < attempts and "address already in use" in self._log_tail().lower():
                logger.warning("a port of %s was taken before it bound it, retrying", self.name)
                continue
            break
        raise self.error(f"{self.name} exited during start-up on {self.url}:\n{self._log_tail()}")

    def stop(self) -> None:
        """SIGTERM the server, SIGKILL it if it does not exit in time."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=self._stop_timeout)
        except subprocess.TimeoutExpired:
            logger.warning("%s pid %d ignored SIGTERM for %.1fs, killing it",
                           self.name, proc.pid, self._stop_timeout)
            proc.kill()
            proc.wait(timeout=self._stop_timeout)
        logger.info("%s pid %d stopped (exit %s)", self.name, proc.pid, proc.returncode)

    def restart(self) -> None:
        """Stop and start again on the same ports with the same data directory."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- helpers -------------------------------------------------------------------------

    def _spawn(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
               cwd: Path | None = None, detached: bool = True) -> subprocess.Popen[bytes]:
        """Start ``argv`` with its output appended to :attr:`output_file`.

        ``detached``: no stdin and a session of its own, so a Ctrl-C in the terminal is for us,
        not for the server; otherwise it shares the terminal as a plain child does.
        """
        with (self._data_dir / self.output_file).open("ab") as out:
            return subprocess.Popen(
                list(argv), env=env, cwd=cwd, stdout=out, stderr=out,
                stdin=subprocess.DEVNULL if detached else None, start_new_session=detached,
            )

    def _wait_ready(self) -> bool:
        """True once :meth:`_ready`, False if the process exited; stop and raise at the deadline."""
        assert self._proc is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            if self._ready():
                return True
            time.sleep(self.poll_interval)  # another process's state: no event to wait on
        self.stop()
        raise self.error(f"{self.name} did not answer on {self.url} within "
                         f"{self._start_timeout:.0f}s:\n{self._log_tail()}")

    def _log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in self._log_paths():
            if path.exists():
                tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(parts) or "(no log output)"
