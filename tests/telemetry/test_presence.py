"""Online/offline from the will within the keep-alive bound; silence flagged without a will."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import poll
from tests.telemetry.conftest import KEEPALIVE_S, SILENCE_S, TelemetryRig

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def poll_api(rig: TelemetryRig, path: str, until: Callable[[Any], bool], timeout: float,
             what: str) -> tuple[Any, float]:
    """Poll the center's API (another component's state); returns (body, seconds waited)."""
    start = time.monotonic()
    body = poll(lambda: rig.center.api.get(path).json(), until, timeout, what)
    return body, time.monotonic() - start


def device_row(body: dict[str, Any], device_id: str) -> dict[str, Any]:
    return next(d for d in body["devices"] if d["id"] == device_id)


def test_killed_agent_process_is_offline_from_the_will_within_the_keepalive_bound(
    rig: TelemetryRig, tmp_path: Path
) -> None:
    commune = rig.stack.unit("xa-k", "commune")
    (config,) = rig.stack.devices(commune, "loa-k-1")
    path = tmp_path / "loa-k-1.json"
    path.write_text(json.dumps({
        "device_id": config.device_id, "data_dir": str(config.data_dir),
        "center_public_keys": list(config.center_public_keys),
        "mqtt": {"host": config.mqtt.host, "port": config.mqtt.port,
                 "password": config.mqtt.password, "keepalive_s": KEEPALIVE_S},
        "health": {"interval_s": 0.5},
    }))
    log = (tmp_path / "agent.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "firmware_sim", "agent", "--config", str(path)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=log,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        poll_api(rig, "/api/v1/monitoring/overview",
                 lambda b: device_row(b, "loa-k-1")["presence"] == "online", 20, "online")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        body, waited = poll_api(rig, "/api/v1/monitoring/overview",
                                lambda b: device_row(b, "loa-k-1")["presence"] == "offline",
                                KEEPALIVE_S * 1.5 + 5, "offline after the kill")
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    # Mosquitto sends the will after 1.5 x keep-alive without a packet (plus its check tick).
    assert waited <= KEEPALIVE_S * 1.5 + 1.5, f"offline shown after {waited:.2f}s"
    detail = rig.center.api.get("/api/v1/monitoring/devices/loa-k-1").json()
    causes = [(c["online"], c["cause"]) for c in detail["status_changes"]]
    assert causes[0] == (False, "will") and (True, "birth") in causes
    # Offline longer than the alert delay (1 s in this rig): an "offline" alert opens.
    alerts, _ = poll_api(rig, "/api/v1/monitoring/alerts?state=open&device_id=loa-k-1",
                         lambda b: any(a["kind"] == "offline" for a in b["items"]), 10,
                         "the offline alert")
    (alert,) = [a for a in alerts["items"] if a["kind"] == "offline"]
    r = rig.center.api.post(f"/api/v1/monitoring/alerts/{alert['id']}/acknowledge")
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    assert r.json()["acknowledged_by"] == "api-token"


def test_device_that_stops_sending_without_a_will_is_flagged_silent(rig: TelemetryRig) -> None:
    commune = rig.stack.unit("xa-q", "commune")
    agents = rig.start_agents(commune, "loa-q-1", "loa-q-2", interval_s=0.2)
    poll_api(rig, "/api/v1/monitoring/overview",
             lambda b: all(device_row(b, d)["sample_at"] for d in agents), 10, "first samples")
    # loa-q-1 hangs: no more samples or events, but its MQTT connection stays up (paho keeps
    # pinging), so the broker never sends its will.
    agents["loa-q-1"].agent.health.stop()
    body, waited = poll_api(rig, "/api/v1/monitoring/overview",
                            lambda b: device_row(b, "loa-q-1")["presence"] == "silent",
                            SILENCE_S + 5, "the silence flag")
    assert waited >= SILENCE_S * 0.5
    assert agents["loa-q-1"].agent.link.connected_event.is_set()  # still connected: no will
    # loa-q-2 still samples: it is online while loa-q-1 is silent (read together; on a loaded
    # machine one overview can catch loa-q-2 between two samples more than SILENCE_S apart)
    body, _ = poll_api(rig, "/api/v1/monitoring/overview",
                       lambda b: device_row(b, "loa-q-2")["presence"] == "online"
                       and device_row(b, "loa-q-1")["presence"] == "silent", 10,
                       "loa-q-2 online beside the silent loa-q-1")
    (unit_row,) = [u for u in body["units"] if u["unit_id"] == commune["id"]]
    assert (unit_row["online"], unit_row["silent"]) == (1, 1)
    detail = rig.center.api.get("/api/v1/monitoring/devices/loa-q-1").json()
    assert detail["status_changes"][0]["cause"] == "silence"
    assert detail["device"]["silent_since"] is not None
    poll_api(rig, "/api/v1/monitoring/alerts?state=open&device_id=loa-q-1",
             lambda b: [a["kind"] for a in b["items"]] == ["offline"], 10,
             "an offline alert for the silent device")
