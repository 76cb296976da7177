"""A real InfluxDB 1.x (``influxd``) run as a child process, for tests, the demo and benchmarks.

Everything lives in ``data_dir``: the rendered config, meta/data/wal directories and the log.
Only loopback ports are used: the HTTP API on a free port, the RPC (backup) listener on
another; reporting, the ``_internal`` monitor store, ifql, graphite, collectd, opentsdb and
UDP are disabled. ``restart()`` keeps the ports and the data directory, so points written
before a stop are there after the start, as after a real server restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from firmware_sim.broker import free_port

logger = logging.getLogger(__name__)
INSTALL_HINT = "run ./run.sh test (installs it) or apt-get install influxdb"
_POLL_INTERVAL = 0.05

CONFIG_TEMPLATE = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{data_dir}/meta"
  logging-enabled = false

[data]
  dir = "{data_dir}/data"
  wal-dir = "{data_dir}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  max-body-size = 0

[ifql]
  enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
"""


class InfluxError(RuntimeError):
    """influxd could not be started or stopped."""


class InfluxNotInstalledError(InfluxError):
    """The influxd executable is missing."""


def find_influxd() -> str:
    found = shutil.which("influxd") or next(
        (str(p) for p in (Path("/usr/bin/influxd"), Path("/usr/sbin/influxd")) if p.is_file()),
        None)
    if found is None:
        raise InfluxNotInstalledError(f"influxd not found: {INSTALL_HINT}")
    return found


class InfluxServer:
    """One ``influxd`` on 127.0.0.1 with its config and data in ``data_dir``."""

    def __init__(self, data_dir: Path, *, start_timeout: float = 30.0,
                 stop_timeout: float = 15.0) -> None:
        self._data_dir = Path(data_dir).resolve()
        self._http_port: int | None = None
        self._rpc_port: int | None = None
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self._http_port is None:
            raise InfluxError("influxd has no port yet: call start() first")
        return self._http_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        return self._data_dir / "influxd.log"

    def start(self) -> None:
        """Start influxd and return once ``/ping`` answers 204."""
        if self.running:
            raise InfluxError(f"influxd already running on {self.url}")
        influxd = find_influxd()
        self._data_dir.mkdir(parents=True, exist_ok=True)
        fixed = self._http_port is not None
        for attempt in range(1 if fixed else 3):
            if not fixed:
                self._http_port, self._rpc_port = free_port(), free_port()
            config = self._data_dir / "influxdb.conf"
            config.write_text(CONFIG_TEMPLATE.format(
                rpc_port=self._rpc_port, http_port=self._http_port, data_dir=self._data_dir))
            env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
            with self.log_path.open("ab") as log:
                self._proc = subprocess.Popen(
                    [influxd, "run", "-config", str(config)], stdin=subprocess.DEVNULL,
                    stdout=log, stderr=log, env=env, start_new_session=True)
            if self._wait_ready():
                logger.info("influxd started on %s (data %s)", self.url, self._data_dir)
                return
            if not fixed and attempt < 2 and "address already in use" in self._log_tail():
                continue
            break
        raise InfluxError(f"influxd exited during start-up:\n{self._log_tail()}")

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ping", timeout=1.0).status_code == 204:
                    return True
            time.sleep(_POLL_INTERVAL)  # another process's state: bounded poll
        self.stop()
        raise InfluxError(f"influxd did not answer /ping on {self.url} within "
                          f"{self._start_timeout:.0f}s:\n{self._log_tail()}")

    def stop(self) -> None:
        """SIGTERM (influxd flushes its WAL), SIGKILL if it does not exit in time."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=self._stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=self._stop_timeout)

    def pause(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (a 'slow' InfluxDB)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def query(self, q: str, db: str | None = None) -> dict[str, object]:
        """Run InfluxQL over HTTP and return the decoded JSON."""
        params = {"q": q, "epoch": "ns", **({"db": db} if db else {})}
        resp = httpx.post(f"{self.url}/query", params=params, timeout=30.0)
        resp.raise_for_status()
        result: dict[str, object] = resp.json()
        return result

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log output)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])
