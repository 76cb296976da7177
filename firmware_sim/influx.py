"""A real InfluxDB 1.x (``influxd``) run as a child process, for tests, the demo and benchmarks.

Everything lives in ``data_dir``: the rendered config, meta/data/wal directories and the log.
Only loopback ports are used: the HTTP API on a free port, the RPC (backup) listener on
another; reporting, the ``_internal`` monitor store, ifql, graphite, collectd, opentsdb and
UDP are disabled. ``restart()`` keeps the ports and the data directory, so points written
before a stop are there after the start, as after a real server restart.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

import httpx

from firmware_sim.local_server import LocalServer, free_port

INSTALL_HINT = "run ./run.sh test (installs it) or apt-get install influxdb"

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


class InfluxServer(LocalServer):
    """One ``influxd`` on 127.0.0.1 with its config and data in ``data_dir``.

    On SIGTERM influxd flushes its WAL, so ``restart()`` finds every point written before.
    """

    name = "influxd"
    error = InfluxError
    output_file = "influxd.log"

    def __init__(self, data_dir: Path, *, start_timeout: float = 30.0,
                 stop_timeout: float = 15.0) -> None:
        super().__init__(data_dir, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._http_port: int | None = None
        self._rpc_port: int | None = None

    @property
    def port(self) -> int:
        if self._http_port is None:
            raise InfluxError("influxd has no port yet: call start() first")
        return self._http_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._data_dir / self.output_file

    def _prepare(self) -> None:
        self._influxd = find_influxd()
        super()._prepare()

    def _ports_fixed(self) -> bool:
        return self._http_port is not None

    def _pick_ports(self) -> None:
        self._http_port, self._rpc_port = free_port(), free_port()

    def _launch(self) -> subprocess.Popen[bytes]:
        config = self._data_dir / "influxdb.conf"
        config.write_text(CONFIG_TEMPLATE.format(
            rpc_port=self._rpc_port, http_port=self._http_port, data_dir=self._data_dir))
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
        return self._spawn([self._influxd, "run", "-config", str(config)], env=env)

    def _ready(self) -> bool:
        """``/ping`` answers 204."""
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/ping", timeout=1.0).status_code == 204
        return False

    def pause(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (a 'slow' InfluxDB)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def query(self, q: str, db: str | None = None) -> dict[str, object]:
        """Run InfluxQL over HTTP and return the decoded JSON."""
        params = {"q": q, "epoch": "ns", **({"db": db} if db else {})}
        resp = httpx.post(f"{self.url}/query", params=params, timeout=30.0)
        resp.raise_for_status()
        result: dict[str, object] = resp.json()
        return result
