"""Benchmark: an agent update, per device: download, install, restart, health confirmation.

The flow of tests/ota/test_agent_update.py: a real Mosquitto, the real center (in-process),
N agents each in its own managed root (first installed from a release built here) started
through ``launch.py``; release B is uploaded (``POST /api/v1/releases``) and rolled out in
one wave (``POST /api/v1/rollouts``), then a release broken on purpose that every agent
rolls back from. Per device: download and install times as the agent reports them
(``UpdateReport.duration_ms``), the restart from the ``restarting`` report to the new
version's birth (``Status``), the health confirmation from that birth to ``confirmed``, and
the whole update from the command to ``confirmed``. Beside them, in the same run, the limits:
the release's files fetched raw over HTTP from the same center, and a bare environment made
and the same wheels unzipped into it.

Usage: .venv/bin/python bench/ota.py [--devices 3] [--docs]   (--docs rewrites the section
"Agent update" of docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import venv
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_agent.update.install import check_release, install_release  # noqa: E402
from edge_agent.update.launch import Layout  # noqa: E402
from firmware_sim.broker import MosquittoBroker  # noqa: E402
from protocol.codec import decode_event, decode_status  # noqa: E402
from protocol.events import Status, UpdateReport, UpdateStage  # noqa: E402
from protocol.topics import Channel, device_topic  # noqa: E402
from tests.ota.rig import LaunchedAgent, build_release, first_install, release_files  # noqa: E402
from tests.support.center import CenterHandle, running_center  # noqa: E402
from tests.support.mqtt import MqttTestClient, connect_client  # noqa: E402
from tests.support.tree import add_device, add_unit  # noqa: E402
from tests.support.waiting import poll  # noqa: E402

BASE, GOOD, BROKEN = "1.0.0", "1.0.1", "1.0.2"
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Agent update (`bench/ota.py`)"


def seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.2f} s"


class Watch:
    """Every event and status of the fleet, with the instant each was received."""

    def __init__(self, client: MqttTestClient, devices: list[str]) -> None:
        self.client = client
        for device_id in devices:
            client.subscribe(device_topic(device_id, Channel.EVENT))
            client.subscribe(device_topic(device_id, Channel.STATUS))

    def reports(self, device_id: str, version: str) -> dict[UpdateStage, UpdateReport]:
        out: dict[UpdateStage, UpdateReport] = {}
        for message in self.client.received_on(device_topic(device_id, Channel.EVENT)):
            event = decode_event(message.payload)
            if isinstance(event, UpdateReport) and event.version == version:
                out.setdefault(event.stage, event)
        return out

    def birth(self, device_id: str, version: str) -> Status | None:
        for message in self.client.received_on(device_topic(device_id, Channel.STATUS)):
            status = decode_status(message.payload)
            if status.online and status.agent_version == version:
                return status
        return None


def roll_out(center: CenterHandle, unit_id: int, version: str, folder: Path) -> int:
    files = [("files", (name, body, "application/zip")) for name, body in release_files(folder)]
    response = center.api.post("/api/v1/releases", files=[("version", (None, version)), *files])
    response.raise_for_status()
    response = center.api.post("/api/v1/rollouts", json={
        "version": version, "targets": {"unit_ids": [unit_id]}, "waves": [100],
        "failure_threshold_pct": 100, "confirm_within_s": 120})
    response.raise_for_status()
    return int(response.json()["id"])


def wait_rollout(center: CenterHandle, rollout_id: int, end: str) -> dict[str, Any]:
    return dict(poll(lambda: center.api.get(f"/api/v1/rollouts/{rollout_id}").json(),
                     lambda body: all(d["state"] == end for d in body["devices"]), 300,
                     f"every device {end}", interval=0.2))


def raw_limits(center: CenterHandle, version: str, folder: Path) -> dict[str, float]:
    """The same files fetched raw (into memory) and unzipped into a bare environment."""
    release = center.api.get("/api/v1/releases").json()["items"]
    files = next(r for r in release if r["version"] == version)["files"]
    base = f"{center.base_url}/api/v1/releases/{version}/files/"
    began = time.monotonic()
    with httpx.Client() as http:
        for f in files:
            http.get(base + f["name"]).raise_for_status()
    fetched = time.monotonic() - began
    with tempfile.TemporaryDirectory() as tmp:
        began = time.monotonic()
        venv.EnvBuilder(with_pip=False, symlinks=True).create(tmp)
        site = next(Path(tmp).glob("lib/python3.*/site-packages"))
        for wheel in folder.glob("*.whl"):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(site)
        unzipped = time.monotonic() - began
    return {"fetch_ms": fetched * 1000, "unzip_ms": unzipped * 1000}


def install_alone(folder: Path, version: str) -> dict[str, float]:
    """The agent's install step on its own (nothing else running): environment and wheels,
    then the import check."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = Layout(Path(tmp))
        began = time.monotonic()
        install_release(layout, version, sorted(folder.glob("*.whl")))
        built = time.monotonic()
        check_release(layout, version)
        checked = time.monotonic()
    return {"build_ms": (built - began) * 1000, "check_ms": (checked - built) * 1000}


def run(devices: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-ota-"))
    try:
        with ThreadPoolExecutor(3) as pool:
            built = {v: pool.submit(build_release, v, work / "releases" / v,
                                    "exit" if v == BROKEN else None) for v in (BASE, GOOD, BROKEN)}
            folders = {v: f.result() for v, f in built.items()}
        size = sum(w.stat().st_size for w in folders[GOOD].glob("*.whl"))
        wheels = len(list(folders[GOOD].glob("*.whl")))
        agents = [LaunchedAgent(f"loa-bench-{n}", work / f"dev-{n}") for n in range(devices)]
        for install in [first_install(a.root, folders[BASE]) for a in agents]:
            install.communicate(timeout=300)
            assert install.returncode == 0
        with MosquittoBroker(work / "broker") as broker, running_center(
                work / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
                mqtt_password=broker.center_password) as center:
            client = connect_client(broker.host, broker.center_port, "center",
                                    broker.center_password, client_id="bench-ota-watch")
            try:
                watch = Watch(client, [a.device_id for a in agents])
                unit = add_unit(center.api, "xa-bench-ota", "commune")
                for agent in agents:
                    created = add_device(center.api, agent.device_id, unit, broker=broker)
                    agent.configure(broker_host=broker.host, broker_port=broker.port,
                                    password=created["mqtt_password"],
                                    public_key=center.public_key_b64)
                    agent.start()
                for agent in agents:
                    poll(lambda a=agent: watch.birth(a.device_id, BASE), bool, 60,
                         f"{agent.device_id} born")
                rollout = roll_out(center, unit["id"], GOOD, folders[GOOD])
                wait_rollout(center, rollout, "confirmed")
                rows = []
                for agent in agents:
                    reports = watch.reports(agent.device_id, GOOD)
                    birth = poll(lambda a=agent: watch.birth(a.device_id, GOOD), bool, 30,
                                 "birth of the new version")
                    restarting = reports[UpdateStage.RESTARTING].at
                    confirmed = reports[UpdateStage.CONFIRMED]
                    rows.append({
                        "device": agent.device_id,
                        "download_ms": reports[UpdateStage.DOWNLOADED].duration_ms,
                        "install_ms": reports[UpdateStage.INSTALLED].duration_ms,
                        "restart_ms": (birth.at - restarting).total_seconds() * 1000,
                        "health_ms": (confirmed.at - birth.at).total_seconds() * 1000,
                        "total_ms": confirmed.duration_ms,
                    })
                limits = raw_limits(center, GOOD, folders[GOOD])
                broken = roll_out(center, unit["id"], BROKEN, folders[BROKEN])
                done = wait_rollout(center, broken, "rolled_back")
                backs = []
                for agent in agents:
                    report = watch.reports(agent.device_id, BROKEN)[UpdateStage.ROLLED_BACK]
                    backs.append({"device": agent.device_id, "total_ms": report.duration_ms,
                                  "reason": report.reason,
                                  "running": report.running_version})
                assert all(d["state"] == "rolled_back" for d in done["devices"])
            finally:
                for agent in agents:
                    agent.stop()
                client.close()
        limits.update(install_alone(folders[GOOD], GOOD))
        return {"devices": devices, "release_bytes": size, "wheels": wheels, "rows": rows,
                "limits": limits, "rollbacks": backs, "load": load,
                "date": datetime.now(UTC).strftime("%Y-%m-%d")}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def markdown(result: dict[str, Any]) -> str:
    rows, limits, backs = result["rows"], result["limits"], result["rollbacks"]
    mib = result["release_bytes"] / 2**20
    lines = [
        SECTION, "",
        f"`.venv/bin/python bench/ota.py --devices {result['devices']}` ({result['date']}): a "
        "real Mosquitto, the center in-process, each agent in its own managed root started "
        "through `launch.py` (first installed from release "
        f"{BASE}); release {GOOD} ({result['wheels']} wheels, {mib:.1f} MiB: the agent and "
        "every runtime dependency, Vosk included) uploaded and rolled out in one wave to "
        "every device at once, on the same 2 cores as the center and the broker (load "
        f"average {result['load']:.1f} when the run began).", "",
        "| device | download | install | restart | health confirmed | command → confirmed |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['device']} | {seconds(row['download_ms'])} | "
                     f"{seconds(row['install_ms'])} | {seconds(row['restart_ms'])} | "
                     f"{seconds(row['health_ms'])} | {seconds(row['total_ms'])} |")
    for name, pick in (("median", statistics.median), ("max", max)):
        lines.append(f"| **{name}** | " + " | ".join(
            seconds(pick([r[k] for r in rows])) for k in
            ("download_ms", "install_ms", "restart_ms", "health_ms", "total_ms")) + " |")
    lines += [
        "",
        "Download: the release manifest and every wheel, each verified (size, SHA-256) before "
        "use. Install: a new environment (`venv --without-pip`), the wheels unpacked by "
        "`installer`, then the new Python started once to import the agent and check its "
        "version. Restart: from the `restarting` report to the new version's birth on the "
        "broker (the old agent stops cleanly, the launcher starts the new one, which loads its "
        "store and logs in). Health confirmed: from that birth to `confirmed` (a manifest "
        "verified, the player loop advancing; the check runs every 0.25 s, "
        "`update.health_poll_s`). Times are the agents' own (reports and births carry the "
        "agent's clock; one machine, one clock).", "",
        f"Limits in the same run: the same {result['wheels']} files fetched raw from the same "
        f"center by one client: {seconds(limits['fetch_ms'])}; a bare environment made and "
        f"the same wheels only unzipped into it: {seconds(limits['unzip_ms'])}. The agent's "
        "own install step alone (nothing else running): environment and wheels "
        f"{seconds(limits['build_ms'])}, import check {seconds(limits['check_ms'])} (the first "
        "start of a fresh environment compiles its modules). During the rollout the devices "
        "install at the same time as each other, the center and the broker on 2 cores.", "",
        f"Then release {BROKEN}, built to exit at once (`--break exit`): every agent rolled "
        f"back by itself and reported it from {backs[0]['running']} again, command → "
        f"`rolled_back` "
        + ", ".join(seconds(b["total_ms"]) for b in backs)
        + f" (reason: \"{backs[0]['reason']}\").", "",
    ]
    return "\n".join(line if line.startswith("|") else
                     textwrap.fill(line, 96, break_on_hyphens=False) for line in lines)


def write_docs(section: str) -> None:
    text = DOCS.read_text()
    pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text.rstrip("\n") + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=3)
    parser.add_argument("--docs", action="store_true",
                        help=f"rewrite the section {SECTION!r} of docs/benchmarks.md")
    args = parser.parse_args()
    section = markdown(run(args.devices))
    print(section)
    if args.docs:
        write_docs(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
