"""Benchmark: schedule one bulletin to N real agents and compare with raw Mosquitto fan-out.

Reports, in one run on this machine:
  (a) API call -> every agent holds the new manifest, as a ratio to raw fan-out of
      same-size payloads from one publisher to N subscribers on the same broker;
  (b) start-time skew across devices at the simulated sinks (p50, p99, max);
  (c) resident memory per agent (N agents in this process).

Usage: .venv/bin/python bench/fanout.py [--devices 200] [--lead 40]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.children import JsonLinesChild  # noqa: E402
from firmware_sim.broker import MosquittoBroker, free_port  # noqa: E402
from firmware_sim.center_process import CenterProcess  # noqa: E402
from protocol.topics import Channel, device_topic  # noqa: E402


class FleetWorker(JsonLinesChild):
    """A `python -m firmware_sim fleet --report` child; its JSON lines are collected."""

    running: list[FleetWorker] = []

    def __init__(self, configs: list[Path], log: Path) -> None:
        self.devices = [p.stem for p in configs]
        super().__init__([sys.executable, "-m", "firmware_sim", "fleet", "--report", "--config",
                          *map(str, configs)], log)
        FleetWorker.running.append(self)

    def wait(self, ev: str, match: Callable[[dict[str, Any]], bool], timeout: float,
             count: int = 1) -> None:
        self.wait_until(
            lambda: sum(1 for e in self.events if e["ev"] == ev and match(e)) >= count,
            timeout, f"{count} x {ev}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def connect(client: mqtt.Client, host: str, port: int) -> threading.Event:
    ready = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: ready.set()
    client.connect(host, port, keepalive=60)
    client.loop_start()
    return ready


def raw_fanout(broker: MosquittoBroker, creds: dict[str, str], payload: bytes) -> float:
    """Seconds from the first publish until every subscriber has its message."""
    remaining = set(creds)
    lock = threading.Lock()
    done = threading.Event()
    subs: list[mqtt.Client] = []
    subscribed = threading.Semaphore(0)
    for device, password in creds.items():
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device,
                        protocol=mqtt.MQTTv5)
        c.username_pw_set(device, password)

        def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage, d: str = device) -> None:
            with lock:
                remaining.discard(d)
                if not remaining:
                    done.set()

        c.on_message = on_message
        c.on_subscribe = lambda *a: subscribed.release()
        ready = connect(c, broker.host, broker.port)
        if not ready.wait(10):
            raise RuntimeError(f"raw subscriber {device} did not connect")
        c.subscribe(device_topic(device, Channel.CMD), qos=1)
        subs.append(c)
    for _ in subs:
        if not subscribed.acquire(timeout=10):
            raise RuntimeError("raw subscriptions not acknowledged")
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="raw-pub", protocol=mqtt.MQTTv5)
    pub.username_pw_set("center", broker.center_password)
    if not connect(pub, broker.host, broker.center_port).wait(10):
        raise RuntimeError("raw publisher did not connect")
    t0 = time.perf_counter()
    for device in creds:
        pub.publish(device_topic(device, Channel.CMD), payload, qos=1)
    if not done.wait(60):
        raise RuntimeError(f"raw fan-out incomplete: {len(remaining)} missing")
    elapsed = time.perf_counter() - t0
    for c in [*subs, pub]:
        c.disconnect()
        c.loop_stop()
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--lead", type=float, default=40.0,
                    help="seconds between the API call and the scheduled instant")
    ap.add_argument("--processes", type=int, default=4,
                    help="agent processes (paho uses select(): keep < ~150 agents each)")
    ap.add_argument("--agent-dir", type=Path,
                    default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None,
                    help="where agents keep their SQLite store and cache. Each real device "
                         "has its own flash; 200 agents fsyncing on one shared disk would "
                         "measure that disk. Default: /dev/shm")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    n = args.devices
    work = Path(tempfile.mkdtemp(prefix="tt-bench-"))
    print(f"bench: {n} agents, work dir {work}", flush=True)
    broker = MosquittoBroker(work / "broker")
    broker.start()
    center = CenterProcess(work / "center", port=free_port(), mqtt_port=broker.center_port,
                           mqtt_password=broker.center_password)
    center.start()
    try:
        api = center.client()
        province = api.post("/api/v1/units", json={"code": "p1", "name": "Tỉnh Bench",
                                                    "level": "province"}).json()
        communes = [api.post("/api/v1/units", json={
            "code": f"x{i}", "name": f"Xã {i}", "level": "commune", "parent_id": province["id"],
        }).json() for i in range(2)]
        creds: dict[str, str] = {}
        print("bench: provisioning devices...", flush=True)
        for i in range(n):
            device_id = f"loa-{i:04d}"
            r = api.post("/api/v1/devices", json={"id": device_id, "name": f"Loa {i}",
                                                  "unit_id": communes[i % 2]["id"]})
            r.raise_for_status()
            creds[device_id] = r.json()["mqtt_password"]
            broker.add_user(device_id, creds[device_id])
        wav = work / "tone.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                        "sine=frequency=440:duration=3:sample_rate=16000", "-ac", "1", str(wav)],
                       check=True)
        with wav.open("rb") as fh:
            media = api.post("/api/v1/media", files={"file": ("tone.wav", fh, "audio/wav")})
        media.raise_for_status()
        bulletin = api.post("/api/v1/bulletins", json={
            "title": "Bản tin thử tải", "media_sha256": media.json()["sha256"]}).json()

        # The envelope size a device receives, for the raw comparison.
        sample = {"type": "manifest", "v": 1, "device_id": "loa-0000", "version": 1,
                  "issued_at": datetime.now(UTC).isoformat(), "items": []}
        payload_size = 900 + len(json.dumps(sample))
        raw_s = raw_fanout(broker, creds, b"x" * payload_size)
        print(f"bench: raw fan-out of {n} x {payload_size} B: {raw_s * 1000:.1f} ms", flush=True)

        pubkey = center.public_key()
        agent_root = Path(tempfile.mkdtemp(prefix="tt-agents-", dir=args.agent_dir))
        config_dir = work / "configs"
        config_dir.mkdir()
        paths = []
        for d, p in creds.items():
            path = config_dir / f"{d}.json"
            path.write_text(json.dumps({
                "device_id": d, "data_dir": str(agent_root / d),
                "center_public_keys": [pubkey],
                "mqtt": {"host": broker.host, "port": broker.port, "password": p,
                         "keepalive_s": 60},
                "cache": {"retry_min_s": 0.5, "retry_max_s": 5},
            }))
            paths.append(path)
        chunks = [paths[i::args.processes] for i in range(args.processes)]
        workers = [FleetWorker(chunk, work / f"worker-{i}.log") for i, chunk in enumerate(chunks)]
        for w in workers:
            w.wait("ready", lambda e: True, 120)
        ready = [e for w in workers for e in w.events if e["ev"] == "ready"]
        if any(e["missing"] for e in ready):
            raise RuntimeError(f"agents did not connect: {[e['missing'] for e in ready]}")
        rss_connected = sum(e["rss"] - e["rss_before"] for e in ready)
        baseline = sum(e["rss_before"] for e in ready)

        start_at = datetime.now(UTC) + timedelta(seconds=args.lead)
        t_call = time.time()
        r = api.post("/api/v1/schedules", json={
            "bulletin_id": bulletin["id"], "start_at": start_at.isoformat(),
            "targets": {"unit_ids": [province["id"]]}})
        r.raise_for_status()
        t_api = time.time() - t_call
        held: dict[str, float] = {}
        for w in workers:
            w.wait("manifest", lambda e: e["version"] >= 2, 120, count=len(w.devices))
            for e in w.events:
                if e["ev"] == "manifest" and e["version"] >= 2:
                    held.setdefault(e["device"], e["t"])
        if len(held) != n:
            raise RuntimeError(f"only {len(held)} of {n} devices hold the manifest")
        system_s = max(held.values()) - t_call
        first_s = min(held.values()) - t_call
        held_ms = [(t - t_call) * 1000 for t in held.values()]
        print(f"bench: API call -> first device holds it {first_s * 1000:.1f} ms, "
              f"all {n}: {system_s * 1000:.1f} ms "
              f"(API call itself {t_api * 1000:.1f} ms)", flush=True)

        plays = []
        for w in workers:
            w.wait("play", lambda e: True, args.lead + 60, count=len(w.devices))
            plays += [e for e in w.events if e["ev"] == "play"]
        offsets = [(p["started_at"] - start_at.timestamp()) * 1000 for p in plays]
        rss_playing = max(p["rss"] for w in workers for p in w.events if p["ev"] == "play")
        rss_total = sum(max(p["rss"] for p in w.events if p["ev"] == "play") for w in workers)
        for w in workers:
            w.stop()
        abs_off = [abs(o) for o in offsets]
        median = statistics.median(offsets)
        skew = [abs(o - median) for o in offsets]
        figures = {
            "devices": n,
            "processes": args.processes,
            "raw_fanout_ms": round(raw_s * 1000, 1),
            "system_fanout_ms": round(system_s * 1000, 1),
            "first_device_ms": round(first_s * 1000, 1),
            "half_of_devices_ms": round(percentile(held_ms, 0.5), 1),
            "p90_of_devices_ms": round(percentile(held_ms, 0.9), 1),
            "api_call_ms": round(t_api * 1000, 1),
            "ratio": round(system_s / raw_s, 2),
            "start_error_ms": {"p50": round(percentile(abs_off, 0.5), 2),
                               "p99": round(percentile(abs_off, 0.99), 2),
                               "max": round(max(abs_off), 2)},
            "skew_spread_ms": round(max(offsets) - min(offsets), 2),
            "skew_vs_median_ms": {
                "p50": round(percentile(skew, 0.5), 2),
                "p99": round(percentile(skew, 0.99), 2),
                "max": round(max(skew), 2)},
            "rss_per_agent_mib": round((rss_total - baseline) / n / 2**20, 2),
            "rss_per_agent_connected_mib": round(rss_connected / n / 2**20, 2),
            "rss_largest_worker_mib": round(rss_playing / 2**20, 1),
        }
        print()
        print(f"(a) manifest fan-out  system {figures['system_fanout_ms']} ms | raw mosquitto "
              f"{figures['raw_fanout_ms']} ms | ratio {figures['ratio']} (goal <= 1.5)")
        print(f"    devices holding it: first {figures['first_device_ms']} ms, half "
              f"{figures['half_of_devices_ms']} ms, 90 % {figures['p90_of_devices_ms']} ms")
        se = figures["start_error_ms"]
        sk = figures["skew_vs_median_ms"]
        print(f"(b) start error vs schedule  p50 {se['p50']} ms  p99 {se['p99']} ms  "
              f"max {se['max']} ms")
        print(f"    skew vs fleet median     p50 {sk['p50']} ms  p99 {sk['p99']} ms  "
              f"max {sk['max']} ms  (spread {figures['skew_spread_ms']} ms; goal p99 <= 20 ms)")
        print(f"(c) memory per agent  {figures['rss_per_agent_mib']} MiB RSS "
              f"({figures['rss_per_agent_connected_mib']} MiB before the manifest)")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        return 0
    finally:
        for w in FleetWorker.running:
            w.stop()
        for leftover in Path(args.agent_dir or tempfile.gettempdir()).glob("tt-agents-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        center.stop()
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
