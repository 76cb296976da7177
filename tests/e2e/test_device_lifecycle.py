"""A device's whole life through the real pieces: registered from a CSV, enrolled by the real
``python -m edge_agent enrol`` with its one-time code, playing a bulletin, its broker
credential rotated, the center's signing key rotated, then revoked (it can neither connect nor
play anything new). The agent update is covered by tests/ota."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import load_config
from firmware_sim.broker import MosquittoBroker, probe_login
from firmware_sim.fleet import Fleet, SimDevice
from tests.e2e.conftest import Stack
from tests.support.center import CenterHandle, running_center
from tests.support.waiting import poll

REFUSED = (4, 5)  # CONNACK return codes of MQTT 3.1.1 for a refused login


@pytest.fixture
def center(tmp_path: Path, broker: MosquittoBroker) -> Iterator[CenterHandle]:
    with running_center(tmp_path / "center", mqtt_host=broker.host,
                        mqtt_port=broker.center_port, mqtt_password=broker.center_password,
                        device_mqtt_url=f"mqtt://{broker.host}:{broker.port}") as running:
        yield running


def _enrol(center: CenterHandle, code: str, config: Path, data: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "enrol", "--center", center.base_url,
         "--code", code, "--config", str(config), "--data-dir", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out + err


def _start(stack: Stack, config_path: Path) -> tuple[Fleet, SimDevice]:
    config = load_config(config_path)
    config = replace(config, mqtt=replace(config.mqtt, keepalive_s=5, reconnect_min_s=0.2,
                                          reconnect_max_s=1))
    fleet = Fleet([config])
    fleet.start()
    return fleet, fleet.devices[config.device_id]


def _plays_at(stack: Stack, unit: dict[str, Any], seconds_ahead: float) -> tuple[dict[str, Any],
                                                                                   float]:
    bulletin = stack.audio_bulletin(0.5)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds_ahead)
    stack.post("/api/v1/schedules", {"bulletin_id": bulletin["id"], "start_at": start.isoformat(),
                                     "targets": {"unit_ids": [unit["id"]]}})
    return bulletin, start.timestamp()


def test_register_enrol_play_rotate_credential_and_key_then_revoke(
    tmp_path: Path, broker: MosquittoBroker, center: CenterHandle,
) -> None:
    stack = Stack(tmp_path, broker, center.api, center.public_key_b64)
    commune = stack.unit("xa-e", "commune")
    imported = center.api.post("/api/v1/devices/import", content=(
        "id,name,kind,unit_code,lat,lon\nloa-e1,Loa chợ,speaker,xa-e,21.0,105.8\n").encode(),
        headers={"Content-Type": "text/csv"})
    assert imported.status_code == 201, imported.text
    (row,) = imported.json()["items"]
    config_path, data_dir = tmp_path / "etc" / "agent.json", tmp_path / "agent-data"

    # a wrong code is refused with a message, and writes nothing
    code, output = _run(_enrol(center, "AAAAA-BBBBB-CCCCC-DDDDD", config_path, data_dir))
    assert code == 2 and "unknown enrolment code" in output
    assert not config_path.exists()

    enrolled_at = time.monotonic()
    code, output = _run(_enrol(center, row["code"].lower(), config_path, data_dir))
    assert code == 0, output
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    written = json.loads(config_path.read_text())
    assert written["device_id"] == "loa-e1" and written["mqtt"]["port"] == broker.port
    assert written["center_public_keys"] == [center.public_key_b64]
    old_password = written["mqtt"]["password"]

    # the code works once
    code, output = _run(_enrol(center, row["code"], tmp_path / "other.json", data_dir))
    assert code == 2 and "already used" in output

    fleet, device = _start(stack, config_path)
    try:
        agent = device.agent
        assert agent.link.connected_event.wait(15), "the enrolled agent did not connect"
        poll(lambda: agent.manifest, lambda m: m is not None, 15, "first manifest held")
        first_manifest_s = time.monotonic() - enrolled_at
        assert first_manifest_s < 15

        _, instant = _plays_at(stack, commune, 5)
        assert device.sink.wait_for(lambda r: len(r) == 1 and r[0].completed, 25)
        assert abs(device.sink.records[0].started_at - instant) < 0.2

        # the broker credential, by a signed command; the broker takes it on the ack
        rotated = center.api.post("/api/v1/devices/loa-e1/rotate-credential")
        assert rotated.status_code == 202, rotated.text
        poll(lambda: center.api.get("/api/v1/devices/loa-e1").json(),
             lambda d: d["credential_rotated_at"] is not None, 15, "rotation completed")
        assert probe_login(broker.host, broker.port, "loa-e1", old_password) in REFUSED
        fleet.stop()  # a restart logs in with the new password, kept by the agent
        fleet, device = _start(stack, config_path)
        agent = device.agent
        assert agent.link.connected_event.wait(15), "no login with the rotated password"
        assert agent.passwords.next is None and agent.passwords.current != old_password

        # the center's signing key: announced in manifests, then activated
        old_key = center.public_key_b64
        announced = center.api.post("/api/v1/signing-keys/rotate")
        assert announced.status_code == 201, announced.text
        new_key = next(k["public_key"] for k in announced.json()["keys"]
                       if k["state"] == "next")
        poll(lambda: center.api.get("/api/v1/signing-keys").json(),
             lambda s: s["confirmed_devices"] == s["active_devices"] == 1, 20,
             "the device holds the announced key")
        assert set(agent.trusted_keys.keys) == {old_key, new_key}
        activated = center.api.post("/api/v1/signing-keys/activate")
        assert activated.status_code == 200, activated.text
        poll(lambda: agent.trusted_keys.keys, lambda k: k == (new_key,), 20,
             "the old key retired on the device")
        _, instant = _plays_at(stack, commune, 5)
        # (a new sink since the restart: this is its first play)
        assert device.sink.wait_for(lambda r: len(r) == 1 and r[0].completed, 25), \
            "a bulletin signed with the new key did not play"
        assert abs(device.sink.records[0].started_at - instant) < 0.2

        # revoked: disconnected at once, refused afterwards, nothing new plays
        password = agent.passwords.current
        revoked_at = time.monotonic()
        revoked = center.api.post("/api/v1/devices/loa-e1/revoke",
                                  json={"reason": "máy bị mất trộm / stolen"})
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["state"] == "revoked"
        assert revoked.json()["online"] is False  # no will comes for a disabled account
        poll(lambda: agent.link.connected_event.is_set(), lambda c: not c, 5,
             "the revoked device disconnected")
        assert time.monotonic() - revoked_at < 2.0
        assert probe_login(broker.host, broker.port, "loa-e1", password) in REFUSED
        _, instant = _plays_at(stack, commune, 3)
        later = center.api.get("/api/v1/devices/loa-e1/manifest").json()
        assert later["manifest"]["items"] == []  # it left every manifest
        # absence can only be shown by waiting past the instant (plus the agent's preroll)
        assert not device.sink.wait_for(lambda r: len(r) > 1, instant + 1.5 - time.time())
        again = center.api.post("/api/v1/devices/loa-e1/enrolment-codes")
        assert again.status_code == 409 and "revoked" in again.text
    finally:
        fleet.stop()
    print(f"enrolment to first manifest held: {first_manifest_s * 1000:.0f} ms")
