"""The lint of ``./run.sh lint``, held by the test suite: ruff on the whole tree and mypy strict
on the packages listed in pyproject.toml (``[tool.mypy] packages``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / tool
    assert binary.exists(), f"{tool} missing: run ./run.sh test (installs it)"
    return subprocess.run([str(binary), *args], cwd=REPO, capture_output=True, text=True,
                          check=False)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout
