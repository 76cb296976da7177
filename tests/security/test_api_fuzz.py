"""The API fuzz: schemathesis (a public OpenAPI fuzzer) against the real running center.

The center (with influxd, so telemetry routes answer for real) is seeded first with the
security tests' world (``tests/security/world.py``: two communes, a user of every role, an
object of every kind), so that generated calls reach real objects; ``schemathesis.toml`` makes
path parameters take seeded values more often than not and reuses values seen in answers.
Two runs bounded in examples per operation, with a fixed seed: every operation with the API
token, then the operations that act as the caller's own training officer, as an officer.
It passes when no answer is a server error and every answer matches the schema the center
publishes; the figures (cases per run) are printed for ``docs/security.md``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim.broker import MosquittoBroker
from firmware_sim.influx import InfluxServer
from tests.center.helpers import ok
from tests.security.world import PASSWORD, build_world
from tests.support.center import CenterHandle, running_center

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20261204
EXAMPLES = 5
BUDGET_S = 300  # per run, an upper bound (both runs take about 2.5 minutes on 2 cores)
OFFICER_ROUTES = r"^/api/v1/(forum/|training/(quizzes|attempts)/)"


@pytest.fixture
def fuzzed(tmp_path: Path, broker: MosquittoBroker) -> Iterator[CenterHandle]:
    with InfluxServer(tmp_path / "influx") as influx, running_center(
            tmp_path / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
            mqtt_password=broker.center_password, influx_url=influx.url,
            influx_db="telemetry") as center:
        build_world(center, broker)
        yield center


# The schemathesis command, with the modules its worker threads import lazily imported first:
# CPython 3.11.7 can fail compiling a module in two threads at once ("SystemError: AST
# constructor recursion depth mismatch", seen once in anyio's lazy importer under load).
PRELOADED_CLI = ("import sys, anyio, schemathesis.transport.asgi, schemathesis.transport.requests; "
                 "from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; "
                 "sys.exit(schemathesis())")


def _fuzz(center: CenterHandle, token: str, workdir: Path, *extra: str) -> tuple[int, str]:
    """One schemathesis run; (cases generated, output) after asserting it passed."""
    command = [
        sys.executable, "-c", PRELOADED_CLI, "--config-file", str(CONFIG), "run",
        f"{center.base_url}/api/v1/openapi.json", "--url", center.base_url,
        "-H", f"Authorization: Bearer {token}",
        "--seed", str(SEED), "--max-examples", str(EXAMPLES),
        "--workers", "2", "--request-timeout", "20", "--no-color",
        "--generation-database", "none", *extra,
    ]
    workdir.mkdir(exist_ok=True)
    run = subprocess.run(command, capture_output=True, text=True, timeout=BUDGET_S,
                         check=False, cwd=workdir)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-12000:]
    cases = re.search(r"(\d+) generated", out)
    assert cases, out[-3000:]
    return int(cases.group(1)), out


@pytest.mark.timeout(2 * BUDGET_S + 120)
def test_fuzzed_api_answers_no_server_error_and_matches_its_schema(
        fuzzed: CenterHandle, tmp_path: Path) -> None:
    center = fuzzed
    everything, _ = _fuzz(center, center.api_token, tmp_path / "token",
                          "--exclude-path-regex", OFFICER_ROUTES)
    officer = ok(center.api.post("/api/v1/auth/login", json={
        "username": "operator_a", "password": PASSWORD}), 200)["token"]
    studying, _ = _fuzz(center, officer, tmp_path / "officer",
                        "--include-path-regex", OFFICER_ROUTES)
    print(f"API fuzz: seed {SEED}, {EXAMPLES} examples per operation: {everything} cases with "
          f"the API token, {studying} as a training officer, 0 server errors")
