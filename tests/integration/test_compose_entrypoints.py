"""docker-compose.yml's entrypoints, run outside Docker (there is no Docker engine here).

The commands are taken from the compose file as Compose resolves it and run as they are; only
the addresses and paths are swapped for a real Mosquitto (dynamic-security plugin), the real
center in this process, and temporary directories: the broker's init script, the
provisioner, then the three simulated devices, which enrol themselves with the codes it wrote,
connect and accept their manifests; the kiosk serves its UI; a second provisioning run
changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_sim.broker import MosquittoBroker, find_executable
from firmware_sim.local_server import free_port
from tests.integration.test_compose import REQUIRED_ENV, compose_services
from tests.support.center import CenterHandle, running_center
from tests.support.waiting import poll

pytestmark = pytest.mark.integration

COMPOSE_CENTER = "http://control_center:8000"
DEVICES = ("speaker-1", "speaker-2", "kiosk-1")
STARTUP_S = 30.0


def _clean_env() -> dict[str, str]:
    """The children's environment: none of a developer's TT_* settings (TT_API_TOKEN...)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TT_")}


@dataclass
class Rewrite:
    """The compose file's addresses and paths -> this test's."""

    center_url: str
    center_data: Path
    enrol_dir: Path
    device_dir: Path | None = None
    kiosk_port: int = 0

    def arg(self, word: str) -> str:
        if word == "python":
            return sys.executable
        if word.startswith(COMPOSE_CENTER):
            return self.center_url + word[len(COMPOSE_CENTER):]
        if word.startswith("/center/"):
            return str(self.center_data / word[len("/center/"):])
        if word == "/enrol" or word.startswith("/enrol/"):
            return str(self.enrol_dir) + word[len("/enrol"):]
        if word.startswith("/data/") and self.device_dir is not None:
            return str(self.device_dir / word[len("/data/"):])
        if word == "0.0.0.0:8080":
            return f"127.0.0.1:{self.kiosk_port}"
        return word

    def command(self, compose_command: list[str]) -> list[str]:
        return [self.arg(word) for word in compose_command]


@dataclass
class Fleet:
    center: CenterHandle
    enrol_dir: Path
    first_run: dict[str, Any]
    code_modes: dict[str, int]
    kiosk_url: str
    provision_command: list[str]
    rewrite: Rewrite
    services: dict[str, Any]


def _provision(command: list[str]) -> dict[str, Any]:
    done = subprocess.run(command, env=_clean_env(), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"provision failed:\n{done.stdout}\n{done.stderr}"
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def _device_state(center: CenterHandle, procs: dict[str, subprocess.Popen[bytes]],
                  logs: Path) -> list[dict[str, Any]]:
    for name, proc in procs.items():
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}:\n"
                                 f"{(logs / f'{name}.log').read_text(errors='replace')[-3000:]}")
    return [center.api.get(f"/api/v1/devices/{d}").json() for d in DEVICES]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    find_executable("mosquitto")
    services = compose_services()
    tmp = tmp_path_factory.mktemp("compose")
    enrol_dir, logs = tmp / "enrol", tmp / "logs"
    logs.mkdir()
    with MosquittoBroker(tmp / "broker") as broker, running_center(
        tmp / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
        mqtt_password=broker.center_password, broker_accounts="dynsec",
        device_mqtt_url=f"mqtt://{broker.host}:{broker.port}",
    ) as center:
        base = Rewrite(center.base_url, center.data_dir, enrol_dir)
        provision_command = base.command(services["provision"]["command"])
        first_run = _provision(provision_command)
        code_modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in enrol_dir.iterdir()}
        procs: dict[str, subprocess.Popen[bytes]] = {}
        kiosk_port = free_port()
        try:
            for name in DEVICES:
                rewrite = Rewrite(center.base_url, center.data_dir, enrol_dir,
                                  device_dir=tmp / name, kiosk_port=kiosk_port)
                with (logs / f"{name}.log").open("wb") as log:
                    procs[name] = subprocess.Popen(
                        rewrite.command(services[name]["command"]), env=_clean_env(),
                        stdout=log, stderr=subprocess.STDOUT)
            poll(lambda: _device_state(center, procs, logs),
                 lambda states: all(s["online"] and s["manifest_version_acked"]
                                    for s in states),
                 STARTUP_S, "every simulated device online with its manifest accepted")
            yield Fleet(center, enrol_dir, first_run, code_modes,
                        f"http://127.0.0.1:{kiosk_port}", provision_command, base, services)
        finally:
            for proc in procs.values():
                proc.terminate()
            for proc in procs.values():
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def test_provisioner_registers_the_fleet_and_writes_one_private_code_per_device(
    fleet: Fleet,
) -> None:
    assert fleet.first_run["created_units"] == ["SIM", "SIM-XA-01"]
    assert fleet.first_run["created_devices"] == list(DEVICES)
    assert fleet.first_run["codes_written"] == list(DEVICES)
    assert fleet.code_modes == {f"{d}.code": 0o600 for d in DEVICES}
    kinds = {d: fleet.center.api.get(f"/api/v1/devices/{d}").json()["kind"] for d in DEVICES}
    assert kinds == {"speaker-1": "speaker", "speaker-2": "speaker", "kiosk-1": "kiosk"}


def test_each_device_enrolled_with_its_code_and_runs(fleet: Fleet) -> None:
    devices = [fleet.center.api.get(f"/api/v1/devices/{d}").json() for d in DEVICES]

    assert all(d["enrolled_at"] and d["online"] and d["state"] == "active" for d in devices)
    assert all(d["manifest_version_acked"] >= 1 for d in devices)
    # each code was spent and put aside, so a restart does not try it again
    assert sorted(p.name for p in fleet.enrol_dir.iterdir()) == sorted(
        f"{d}.code.used" for d in DEVICES)


def test_the_kiosk_serves_its_touch_ui_in_vietnamese(fleet: Fleet) -> None:
    home = httpx.get(fleet.kiosk_url + "/", timeout=10)

    assert home.status_code == 200
    assert 'lang="vi"' in home.text and "Gửi ý kiến, phản ánh" in home.text


def test_a_second_provisioning_run_changes_nothing(fleet: Fleet) -> None:
    before = fleet.center.api.get("/api/v1/devices").json()
    files_before = sorted(p.name for p in fleet.enrol_dir.iterdir())

    again = _provision(fleet.provision_command)

    assert again == {"changed": False, "created_units": [], "created_devices": [],
                     "codes_written": [], "not_active": []}
    assert sorted(p.name for p in fleet.enrol_dir.iterdir()) == files_before
    after = fleet.center.api.get("/api/v1/devices").json()
    assert [(d["id"], d["enrolled_at"], d["unit_id"]) for d in after["items"]] == \
        [(d["id"], d["enrolled_at"], d["unit_id"]) for d in before["items"]]
    units = fleet.center.api.get("/api/v1/units").json()["items"]
    assert sorted(u["code"] for u in units) == ["SIM", "SIM-XA-01"]


def test_a_spent_code_is_refused_with_the_centers_reason(fleet: Fleet, tmp_path: Path) -> None:
    """A device whose configuration was lost cannot enrol again with its old code; it says
    why (docker restarts it, and the log shows the reason)."""
    spent = fleet.enrol_dir / "speaker-1.code.used"
    code_file = tmp_path / "speaker-1.code"
    code_file.write_text(spent.read_text())
    rewrite = replace(fleet.rewrite, device_dir=tmp_path / "speaker-1")
    command = [code_file.as_posix() if word.endswith("/speaker-1.code") else word
               for word in rewrite.command(fleet.services["speaker-1"]["command"])]

    done = subprocess.run(command, env=_clean_env(), capture_output=True, text=True,
                          timeout=60, check=False)

    assert done.returncode == 2
    assert "enrolment failed" in done.stderr and "already used" in done.stderr
    assert not (tmp_path / "speaker-1" / "agent.json").exists()
    assert code_file.exists()  # kept: only a code that worked is put aside


def test_the_provisioner_names_a_refused_token(fleet: Fleet) -> None:
    done = subprocess.run(fleet.provision_command,
                          env={**_clean_env(), "TT_API_TOKEN": "not-the-center-token"},
                          capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 2
    assert "provisioning failed" in done.stderr and "HTTP 401" in done.stderr


def _pbkdf2_matches(client: dict[str, Any], password: str) -> bool:
    salt = base64.b64decode(client["salt"])
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, client["iterations"], 64)
    return base64.b64encode(digest).decode() == client["password"]


def test_broker_init_creates_the_center_account_once_with_deny_by_default(
    tmp_path: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("the init script hands the file to the mosquitto user: needs root")
    find_executable("mosquitto_ctrl")
    service = compose_services()["mosquitto-init"]
    script = service["command"][0].replace("$$", "$")  # what Compose hands the shell
    path = tmp_path / "dynsec" / "dynamic-security.json"
    env = {**_clean_env(), **service["environment"], "DYNSEC_FILE": str(path)}

    def run() -> str:
        done = subprocess.run([*service["entrypoint"], script], env=env, capture_output=True,
                              text=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "created" in run()
    written = path.read_bytes()
    data = json.loads(written)
    (center,) = data["clients"]
    assert center["username"] == "center"
    assert _pbkdf2_matches(center, REQUIRED_ENV["TT_MQTT_PASSWORD"])
    assert not _pbkdf2_matches(center, "another password")
    assert set(data["defaultACLAccess"].values()) == {False}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    assert "kept" in run()  # a second start leaves the plugin's file as it is
    assert path.read_bytes() == written
