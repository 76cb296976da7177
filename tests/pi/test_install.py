"""deploy/pi/install.sh into a temporary root (no apt, no user, no systemd), with a release
built by scripts/build_agent_release.py and a real enrolment; then the unit's own ExecStart
run as systemd would run it (a notify socket, WATCHDOG_USEC), until the agent is ready, pings
the watchdog and is online at the center."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim.broker import MosquittoBroker, find_executable
from tests.center.helpers import ok, uid, unit
from tests.support.center import CenterHandle, running_center
from tests.support.waiting import poll

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "pi" / "install.sh"
VERSION = "0.9.3"  # not the source tree's version: the installed release must say it


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "build_agent_release.py"),
                           "--version", VERSION, "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        pytest.fail(f"cannot build a release: {done.stderr} (scripts/setup.sh fills "
                    ".cache/agent-wheels)", pytrace=False)
    return out


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    find_executable("mosquitto")
    with MosquittoBroker(tmp_path_factory.mktemp("broker")) as broker:
        yield broker


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory,
           module_broker: MosquittoBroker) -> Iterator[CenterHandle]:
    with running_center(tmp_path_factory.mktemp("center"), mqtt_host=module_broker.host,
                        mqtt_port=module_broker.center_port,
                        mqtt_password=module_broker.center_password,
                        device_mqtt_url=f"mqtt://{module_broker.host}:{module_broker.port}",
                        ) as handle:
        yield handle


def enrolment_code(center: CenterHandle) -> tuple[str, str]:
    device_id = uid("loa-pi")
    ok(center.api.post("/api/v1/devices", json={"id": device_id, "name": "Loa Pi",
                                                "unit_id": unit(center.api)["id"]}), 201)
    code = ok(center.api.post(f"/api/v1/devices/{device_id}/enrolment-codes"), 201)["code"]
    return device_id, code


def install(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INSTALL), "--no-apt", "--no-user", "--no-systemd", "--root", str(tmp / "root"),
         "--etc", str(tmp / "etc"), "--state-dir", str(tmp / "state"),
         "--python", sys.executable, *args],
        capture_output=True, text=True, timeout=120, check=False)


def unit_lines(path: Path) -> dict[str, list[str]]:
    """Key -> values of a unit file (systemd allows a key more than once)."""
    keys: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            keys.setdefault(key, []).append(value)
    return keys


def release_version(root: Path) -> str:
    done = subprocess.run([str(root / "current" / "bin" / "python"), "-I", "-c",
                           "import edge_agent; print(edge_agent.AGENT_VERSION)"],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


class NotifySocket:
    """The receiving end of sd_notify(3), as systemd holds it for a Type=notify unit."""

    def __init__(self) -> None:
        self.address = f"@tt-notify-{uuid.uuid4().hex}"  # abstract: no path length limit
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.address[1:])
        self.seen: list[str] = []

    def wait_for(self, message: str, timeout: float, *, after: int = 0) -> int:
        """Wait until ``message`` arrives as the ``after``-th message or later; its index."""
        self.sock.settimeout(timeout)
        while message not in self.seen[after:]:
            try:
                self.seen.extend(self.sock.recv(4096).decode().splitlines())
            except TimeoutError:
                raise AssertionError(f"no {message} within {timeout} s; "
                                     f"seen {self.seen}") from None
        return self.seen.index(message, after)

    def close(self) -> None:
        self.sock.close()


def test_install_enrols_lays_out_the_root_and_the_unit_starts_the_agent(
        tmp_path: Path, release: Path, center: CenterHandle) -> None:
    device_id, code = enrolment_code(center)
    done = install(tmp_path, "--release", str(release), "--center", center.base_url,
                   "--code", code)
    assert done.returncode == 0, done.stdout + done.stderr
    root, etc, state = tmp_path / "root", tmp_path / "etc", tmp_path / "state"

    assert os.readlink(root / "current") == f"releases/{VERSION}"
    assert release_version(root) == VERSION
    assert (root / "launch.py").read_bytes() == (
        REPO / "edge_agent" / "update" / "launch.py").read_bytes()
    config = etc / "agent.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert f'"device_id": "{device_id}"' in config.read_text()
    assert f'"data_dir": "{state}"' in config.read_text()

    unit_file = root / "tt-agent.service"
    keys = unit_lines(unit_file)
    assert keys["ExecStart"] == [f"{sys.executable} {root}/launch.py --root {root} -- "
                                 f"--config {config}"]
    assert keys["ReadWritePaths"] == [f"{state} {root}"]
    assert keys["ConditionPathExists"] == [str(config)]
    assert "StateDirectory" not in keys  # a state folder outside /var/lib
    assert "/opt/tt-agent" not in unit_file.read_text()
    analyze = find_systemd_analyze()
    if analyze:
        verified = subprocess.run([analyze, "verify", str(unit_file)], capture_output=True,
                                  text=True, timeout=60, check=False)
        assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr

    # Again, with a relay: nothing reinstalled, no second enrolment, the unit gains the relay.
    config_before = config.read_bytes()
    again = install(tmp_path, "--release", str(release), "--center", center.base_url,
                    "--code", code, "--relay-gpio", "17")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"release {VERSION} is already installed and current" in again.stdout
    assert "enrolled already" in again.stdout and config.read_bytes() == config_before
    keys = unit_lines(unit_file)
    assert keys["ExecStartPre"] == [f"{root}/relay-gpio.sh 17 /run/tt-agent/relay"]
    assert keys["ExecStart"][0].endswith(f"--config {config} --relay-gpio /run/tt-agent/relay")

    # The unit's command as systemd starts it: launcher -> agent -> READY=1, watchdog pings.
    command = install(tmp_path, "--release", str(release))  # back to no relay (none here)
    assert command.returncode == 0, command.stderr
    exec_start = unit_lines(unit_file)["ExecStart"][0].split()
    notify = NotifySocket()
    env = dict(os.environ, NOTIFY_SOCKET=notify.address, WATCHDOG_USEC="1000000")
    log = (tmp_path / "agent.log").open("w")
    launcher = subprocess.Popen(exec_start, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=state)
    try:
        ready = notify.wait_for("READY=1", 60)
        notify.wait_for("WATCHDOG=1", 10, after=ready)  # the running agent pings
        poll(lambda: ok(center.api.get(f"/api/v1/devices/{device_id}")),
             lambda d: d["online"] and d["agent_version"] == VERSION, 30,
             "the installed agent online at the center with the release's version")
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=30) == 0
        notify.wait_for("STOPPING=1", 5)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        notify.close()
        log.close()


def find_systemd_analyze() -> str | None:
    from shutil import which
    return which("systemd-analyze")


@pytest.mark.parametrize(("args", "status", "says"), [
    ([], 2, "--release DIR is required"),
    (["--release", "/nonexistent/release"], 3, "does not exist"),
    (["--release", "{empty}"], 3, "must hold exactly one thongtin_coso-*.whl (found 0)"),
    (["--release", "{release}", "--code", "ABCDE"], 2, "--code and --code-file need --center"),
    (["--release", "{release}", "--relay-gpio", "GPIO17"], 2, "takes a BCM GPIO number"),
    (["--release", "{release}", "--root", "relative/root"], 2, "give an absolute path"),
    (["--release", "{release}", "--center", "center.example"], 2, "must be the center's"),
    (["--release", "{release}", "--bogus"], 2, "unknown option: --bogus"),
])
def test_bad_input_is_refused_with_a_reason_and_an_exit_code(
        tmp_path: Path, release: Path, args: list[str], status: int, says: str) -> None:
    (tmp_path / "empty").mkdir()
    args = [a.format(empty=tmp_path / "empty", release=release) for a in args]
    done = install(tmp_path, *args)
    assert done.returncode == status, done.stdout + done.stderr
    assert says in done.stderr
    assert not (tmp_path / "root" / "current").exists()


def test_a_refused_code_stops_the_install_with_the_centers_reason(
        tmp_path: Path, release: Path, center: CenterHandle) -> None:
    done = install(tmp_path, "--release", str(release), "--center", center.base_url,
                   "--code", "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "unknown enrolment code" in done.stderr and "enrolment failed" in done.stderr
    assert not (tmp_path / "etc" / "agent.json").exists()
    assert release_version(tmp_path / "root") == VERSION  # the release stays installed
