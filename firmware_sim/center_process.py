"""The control center run as a child process (`python -m control_center serve`).

Used by the demo and the benchmark; talks to the center only over its CLI and HTTP API, so
this package never imports control_center.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parent.parent


class CenterProcess:
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
        self.data_dir = data_dir.resolve()
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
        self._proc: subprocess.Popen[bytes] | None = None

    def _cli(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "control_center", *args], env=self.env,
                             cwd=REPO, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"control_center {' '.join(args)} failed: {out.stderr[-2000:]}")
        return out.stdout.strip()

    def public_key(self) -> str:
        return self._cli("pubkey").splitlines()[-1]

    @property
    def api_token(self) -> str:
        return (self.data_dir / "api_token").read_text().strip()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30,
                            headers={"Authorization": f"Bearer {self.api_token}"})

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_file = (self.data_dir / "center.log").open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "control_center", "serve", "--host", self.host,
             "--port", str(self.port)],
            env=self.env, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT,
        )
        log_file.close()
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"control center exited; see {self.data_dir / 'center.log'}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"control center did not answer within {timeout}s")
            time.sleep(0.1)  # no event to await across processes: poll /healthz

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
