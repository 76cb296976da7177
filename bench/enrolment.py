"""Benchmark: from a one-time enrolment code to the first manifest held, per device.

For N devices registered from one CSV, each is enrolled over HTTP exactly as
``python -m edge_agent enrol`` does (``edge_agent.enrol``), then its real agent starts and the
time until it holds its first verified manifest is taken. Beside it, in the same run, the raw
limit of the same round trips: an HTTP POST to the center answered without work
(``GET /api/v1/time``), and a minimal MQTT client logging in with the device's credential and
receiving its retained manifest (no verification, no store).

Usage: .venv/bin/python bench/enrolment.py [--devices 50] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_agent.config import config_from_dict  # noqa: E402
from edge_agent.enrol import agent_config, request_enrolment  # noqa: E402
from firmware_sim.broker import MosquittoBroker, free_port  # noqa: E402
from firmware_sim.center_process import CenterProcess  # noqa: E402
from firmware_sim.fleet import Fleet  # noqa: E402
from protocol.topics import Channel, device_topic  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(name: str, values_ms: list[float]) -> dict[str, Any]:
    row = {"what": name, "p50_ms": round(pct(values_ms, 0.5), 1),
           "p95_ms": round(pct(values_ms, 0.95), 1), "max_ms": round(max(values_ms), 1)}
    print(f"  {name:<44} p50 {row['p50_ms']:>8} ms  p95 {row['p95_ms']:>8} ms  "
          f"max {row['max_ms']:>8} ms")
    return row


def raw_manifest_ms(host: str, port: int, device_id: str, password: str) -> float:
    """A minimal client: connect with the device's credential, get the retained manifest."""
    got = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(device_id, password)
    client.on_connect = lambda c, *_: c.subscribe(device_topic(device_id, Channel.MANIFEST), 1)
    client.on_message = lambda *_: got.set()
    started = time.perf_counter()
    client.connect(host, port)
    client.loop_start()
    try:
        if not got.wait(30):
            raise RuntimeError(f"raw client for {device_id} got no manifest")
        return (time.perf_counter() - started) * 1000
    finally:
        client.disconnect()
        client.loop_stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tt-bench-enrol-"))
    with MosquittoBroker(root / "broker") as broker:
        center = CenterProcess(root / "center", port=free_port(), mqtt_port=broker.center_port,
                               mqtt_password=broker.center_password,
                               extra_env={"TT_DEVICE_MQTT_URL":
                                          f"mqtt://{broker.host}:{broker.port}"})
        with center:
            token = (root / "center" / "api_token").read_text().strip()
            api = httpx.Client(base_url=center.base_url, timeout=60,
                               headers={"Authorization": f"Bearer {token}"})
            api.post("/api/v1/units", json={"code": "xa-b", "name": "Xã B", "level": "commune",
                                            "parent_id": None}).raise_for_status()
            lines = "".join(f"loa-b{i:04d},Loa {i},speaker,xa-b,,\n" for i in range(args.devices))
            imported = api.post("/api/v1/devices/import",
                                content=("id,name,kind,unit_code,lat,lon\n" + lines).encode(),
                                headers={"Content-Type": "text/csv"})
            imported.raise_for_status()
            codes = {i["device_id"]: i["code"] for i in imported.json()["items"]}
            enrol_ms, connect_ms, total_ms, raw_http_ms, raw_mqtt_ms = [], [], [], [], []
            print(f"enrolling {len(codes)} devices one after another")
            for n, (device_id, code) in enumerate(sorted(codes.items()), start=1):
                t0 = time.perf_counter()
                answer = request_enrolment(center.base_url, code)
                t1 = time.perf_counter()
                config = config_from_dict(agent_config(answer, data_dir=root / "agents" /
                                                       device_id))
                fleet = Fleet([config])
                agent = fleet.devices[device_id].agent
                fleet.start()
                try:
                    if not agent.link.connected_event.wait(30):
                        raise RuntimeError(f"{device_id} did not connect")
                    t2 = time.perf_counter()
                    with agent.manifest_changed:
                        if not agent.manifest_changed.wait_for(lambda a=agent: a.manifest
                                                               is not None, 30):
                            raise RuntimeError(f"{device_id} got no manifest")
                    t3 = time.perf_counter()
                finally:
                    fleet.stop()
                enrol_ms.append((t1 - t0) * 1000)
                connect_ms.append((t2 - t1) * 1000)
                total_ms.append((t3 - t0) * 1000)
                h0 = time.perf_counter()
                api.get("/api/v1/time").raise_for_status()
                raw_http_ms.append((time.perf_counter() - h0) * 1000)
                raw_mqtt_ms.append(raw_manifest_ms(broker.host, broker.port, device_id,
                                                   answer["mqtt"]["password"]))
                if n % 10 == 0:
                    print(f"  {n}/{len(codes)}")
            print("results (one device at a time, this machine):")
            rows = [summary("enrolment request (code -> credential)", enrol_ms),
                    summary("agent start -> connected", connect_ms),
                    summary("code -> first manifest held (whole path)", total_ms),
                    summary("raw: one HTTP round trip (GET /time)", raw_http_ms),
                    summary("raw: connect + retained manifest (minimal)", raw_mqtt_ms)]
            raw = statistics.median(raw_http_ms) + statistics.median(raw_mqtt_ms)
            ratio = statistics.median(total_ms) / raw
            print(f"ratio of the whole path to the raw round trips (p50): {ratio:.1f}")
            if args.json:
                args.json.write_text(json.dumps({"devices": len(codes), "rows": rows,
                                                 "ratio_p50": round(ratio, 2)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
