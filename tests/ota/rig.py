"""Agents run as on a Pi, for the update tests and ``bench/ota.py``: each in its own managed
root, first installed from a release built by ``scripts/build_agent_release.py`` the way the
first install on a device does it (``python3 -m edge_agent.update.install`` from the wheels
alone), and started through the root's ``launch.py``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from edge_agent.update.launch import Layout, State

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "scripts" / "build_agent_release.py"
# What a Pi has: the system's python3, not this project's virtual environment.
PYTHON3 = shutil.which("python3") or sys.executable


def build_release(version: str, out: Path, broken: str | None = None) -> Path:
    """Build release ``version`` into ``out`` (its wheels and release.json)."""
    args = [sys.executable, str(BUILD), "--version", version, "--out", str(out)]
    if broken:
        args += ["--break", broken]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return out


def release_files(folder: Path) -> list[tuple[str, bytes]]:
    return [(wheel.name, wheel.read_bytes()) for wheel in sorted(folder.glob("*.whl"))]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "NOTIFY_SOCKET", "VIRTUAL_ENV")}


def first_install(root: Path, release: Path) -> subprocess.Popen[bytes]:
    """Start the first install of ``release`` under ``root`` (wait on the process)."""
    zips = [*release.glob("thongtin_coso-*.whl"), *release.glob("installer-*.whl")]
    env = {**_clean_env(), "PYTHONPATH": os.pathsep.join(str(z) for z in zips)}
    root.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [PYTHON3, "-m", "edge_agent.update.install", "--root", str(root), "--wheels",
         str(release), "--activate"], env=env, cwd=root.parent,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@dataclass
class LaunchedAgent:
    """One device: its managed root, data, config and the launcher process."""

    device_id: str
    home: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        return self.home / "opt-tt-agent"

    @property
    def layout(self) -> Layout:
        return Layout(self.root)

    @property
    def log_path(self) -> Path:
        return self.home / "journal.log"

    def configure(self, *, broker_host: str, broker_port: int, password: str,
                  public_key: str) -> Path:
        config = self.home / "tt-agent.json"
        config.write_text(json.dumps({
            "device_id": self.device_id,
            "data_dir": str(self.home / "var-lib-tt-agent"),
            "center_public_keys": [public_key],
            "mqtt": {"host": broker_host, "port": broker_port, "password": password,
                     "reconnect_min_s": 0.5, "reconnect_max_s": 2.0},
            "health": {"interval_s": 0},
            "update": {"root": str(self.root)},
        }))
        return config

    def start(self) -> None:
        """What systemd's ExecStart runs."""
        with self.log_path.open("ab") as journal:
            self.proc = subprocess.Popen(
                [PYTHON3, str(self.root / "launch.py"), "--root", str(self.root), "--",
                 "--config", str(self.home / "tt-agent.json")],
                env=_clean_env(), cwd=self.root, stdin=subprocess.DEVNULL, stdout=journal,
                stderr=journal)

    def stop(self) -> int | None:
        """What systemd's stop does: SIGTERM to the launcher, which forwards it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()

    def state(self) -> State:
        return self.layout.read_state()

    def journal(self, last: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-last:])
