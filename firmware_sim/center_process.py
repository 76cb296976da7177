"""The control center run as a child process (`python -m control_center serve`).

Used by the demo and the benchmark; talks to the center only over its CLI and HTTP API, so
this package never imports control_center.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx

from firmware_sim.local_server import LocalServer

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parent.parent
_STOP_TIMEOUT = 15.0


class CenterProcess(LocalServer):
    """The center's ``serve`` on ``host:port``, its database and log in ``data_dir``.

    It shares the terminal (stdin, Ctrl-C) as a plain child process does.
    """

    name = "control center"
    output_file = "center.log"
    poll_interval = 0.1

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int,
        mqtt_port: int,
        mqtt_password: str,
        host: str = "127.0.0.1",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(data_dir, start_timeout=30.0, stop_timeout=_STOP_TIMEOUT)
        self.port = port
        self.host = host
        self.base_url = f"http://{host}:{port}"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "TT_DATA_DIR": str(self.data_dir),
            "TT_MQTT_HOST": "127.0.0.1",
            "TT_MQTT_PORT": str(mqtt_port),
            "TT_MQTT_PASSWORD": mqtt_password,
            "TT_PUBLIC_BASE_URL": self.base_url,
            **(extra_env or {}),
        }

    @property
    def url(self) -> str:
        return self.base_url

    def _cli(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "control_center", *args], env=self.env,
                             cwd=REPO, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"control_center {' '.join(args)} failed: {out.stderr[-2000:]}")
        return out.stdout.strip()

    def public_key(self) -> str:
        return self._cli("pubkey").splitlines()[-1]

    def sign_in_link(self) -> str:
        """A one-time link to the monitoring pages (valid once, for minutes)."""
        return self._cli("sign-in-link").splitlines()[-1]

    @property
    def api_token(self) -> str:
        return (self.data_dir / "api_token").read_text().strip()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30,
                            headers={"Authorization": f"Bearer {self.api_token}"})

    def start(self, timeout: float = 30.0) -> None:
        """Start the center and return once ``/healthz`` answers 200 (within ``timeout``)."""
        self._start_timeout = timeout
        super().start()

    def _launch(self) -> subprocess.Popen[bytes]:
        return self._spawn([sys.executable, "-m", "control_center", "serve", "--host", self.host,
                            "--port", str(self.port)], env=self.env, cwd=REPO, detached=False)

    def _ready(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        return False
