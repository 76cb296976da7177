"""Benchmark: health points through agent outbox -> Mosquitto -> bridge -> InfluxDB.

Reports, in one run on this machine:
  (a) the physical limit: the same kind of points, already formatted as line protocol,
      posted in batches of 5,000 straight to the same influxd over HTTP (points/s);
  (b) sustained points/s through the whole path with N simulated devices (default 1,000),
      each a real edge_agent Outbox (SQLite) + MqttLink (paho, its own broker login) in
      worker processes, every sample built by edge_agent's HealthSampler from
      firmware_sim.sensors; the center is `python -m control_center serve` with
      TT_INFLUX_URL. Each device's outbox is filled first (a backlog, as after a night
      offline), then all links open at once and the bridge's written counter is timed
      between 5 % and 95 % of the points; ratio = (b) / (a);
  (c) influxd stopped: the same again while InfluxDB is down; the center's resident memory
      and queue are sampled (bounded: the backlog goes to the disk spill), then influxd
      is restarted and every point must be in InfluxDB exactly once;
  (d) the fleet overview's query time: the last sample of every device with InfluxQL, and
      the SQL overview endpoint (GET /api/v1/monitoring/overview).

Usage: .venv/bin/python bench/telemetry.py [--devices 1000] [--reports 10] [--samples 100]
"""

from __future__ import annotations

import argparse
import json
import os
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

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.children import JsonLinesChild  # noqa: E402
from control_center.telemetry.lineproto import health_line, series_tags  # noqa: E402
from firmware_sim.broker import MosquittoBroker, free_port  # noqa: E402
from firmware_sim.center_process import CenterProcess  # noqa: E402
from firmware_sim.influx import InfluxServer  # noqa: E402

DB = "telemetry"


# --- worker process: many light devices, each through edge_agent's Outbox --------------------

class StepClock:
    """A device clock that advances 1 ms per reading: unique instants per device."""

    def __init__(self, start: datetime) -> None:
        self._at = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            self._at += timedelta(milliseconds=1)
            return self._at

    def real_seconds(self, span_s: float) -> float:
        return span_s


def worker_main(spec_path: Path) -> int:
    from edge_agent import AGENT_VERSION
    from edge_agent.config import HealthConfig, MqttConfig
    from edge_agent.health import AgentFacts, HealthSampler
    from edge_agent.mqtt_link import MqttLink
    from edge_agent.outbox import Outbox
    from edge_agent.store import LocalStore
    from firmware_sim.sensors import SimSensors
    from protocol.codec import encode
    from protocol.events import Status
    from protocol.telemetry import HealthReport
    from protocol.topics import Channel, device_topic

    spec = json.loads(spec_path.read_text())
    root = Path(spec["data_root"])
    devices = []
    for i, (device_id, password) in enumerate(spec["devices"]):
        store = LocalStore(root / device_id / "agent.sqlite3")
        outbox = Outbox(store, window=20)
        clock = StepClock(datetime.now(UTC) - timedelta(days=1) + timedelta(seconds=i))
        batch: list[HealthReport] = []
        sampler = HealthSampler(
            device_id=device_id, data_dir=root / device_id,
            config=HealthConfig(interval_s=0, samples_per_report=spec["samples"]),
            probe=SimSensors(device_id), clock=clock, emit=batch.append,
            facts=AgentFacts(amp_on=lambda: False, volume=lambda: 80, cache_bytes=lambda: 0,
                             manifest_version=lambda: 1, agent_version=AGENT_VERSION))
        state: dict[str, Any] = {"go": False}

        def birth(d: str = device_id) -> bytes:
            return encode(Status(device_id=d, online=True, at=datetime.now(UTC),
                                 agent_version=AGENT_VERSION))

        link = MqttLink(
            device_id=device_id,
            config=MqttConfig(host=spec["host"], port=spec["port"], password=password,
                              keepalive_s=60),
            birth=birth, will=encode(Status(device_id=device_id, online=False,
                                            at=datetime.now(UTC))),
            on_message=lambda channel, raw: None, on_connected=lambda: None,
            on_disconnected=lambda: None, on_published=outbox.published)
        devices.append({"id": device_id, "outbox": outbox, "sampler": sampler, "batch": batch,
                        "link": link, "state": state,
                        "topic": device_topic(device_id, Channel.TELEMETRY)})

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps(event), flush=True)

    for d in devices:
        d["link"].start()
    missing = [d["id"] for d in devices if not d["link"].connected_event.wait(60)]
    emit({"ev": "ready", "missing": missing})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "fill":  # links open, outboxes not pumping: a backlog
            points = 0
            for d in devices:
                d["outbox"].disconnected()
                for _ in range(cmd["reports"]):
                    for _ in range(spec["samples"]):
                        d["sampler"].sample_now()
                    report = d["batch"].pop()
                    d["outbox"].add(d["topic"], report)
                    points += len(report.samples)
            emit({"ev": "filled", "points": points})
        elif cmd["cmd"] == "go":
            for d in devices:
                link = d["link"]
                d["outbox"].connected(lambda t, p, link=link: link.publish(t, p, qos=1))
            drained = all(d["outbox"].wait_drained(600) for d in devices)
            emit({"ev": "drained", "ok": drained})
        elif cmd["cmd"] == "stop":
            break
    for d in devices:
        d["link"].stop()
    return 0


class Worker(JsonLinesChild):
    def __init__(self, spec: dict[str, Any], work: Path, index: int) -> None:
        path = work / f"worker-{index}.json"
        path.write_text(json.dumps(spec))
        super().__init__([sys.executable, str(Path(__file__).resolve()), "worker", str(path)],
                         work / f"worker-{index}.log", stdin=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def wait(self, ev: str, timeout: float) -> dict[str, Any]:
        """Wait for the next ``ev`` line and consume it."""
        self.wait_until(lambda: any(e["ev"] == ev for e in self.events), timeout, repr(ev))
        with self._cond:
            found = next(e for e in self.events if e["ev"] == ev)
            self.events.remove(found)
            return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(cmd="stop")
                self.proc.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


# --- parent ---------------------------------------------------------------------------------------

def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def raw_limit(influx: InfluxServer, n_devices: int, points: int, db: str = "rawlimit") -> float:
    """Points/s posting pre-formatted line protocol in batches of 5,000 over HTTP."""
    from protocol.telemetry import HealthSample, NetworkType

    base = datetime.now(UTC) - timedelta(days=2)
    tags = [series_tags(f"raw-{i:04d}", "speaker", 1 + i % 20) for i in range(n_devices)]
    lines = [health_line(HealthSample(
        sample_id=f"{k:032x}", at=base + timedelta(milliseconds=k // n_devices),
        cpu_temp_c=52.5, load1=0.3, mem_used_pct=38.1, disk_free_bytes=11_000_000_000,
        disk_free_pct=71.2, uptime_s=86400.0, net_type=NetworkType.CELLULAR, signal_dbm=-85,
        amp_on=False, volume=80, clock_offset_ms=3.2, cache_bytes=5_000_000,
        agent_version="0.1.0", manifest_version=3), tags[k % n_devices]) for k in range(points)]
    bodies = ["\n".join(lines[i:i + 5000]).encode() for i in range(0, points, 5000)]
    with httpx.Client(base_url=influx.url, timeout=60) as http:
        http.post("/query", params={"q": f"CREATE DATABASE {db}"}).raise_for_status()
        t0 = time.perf_counter()
        for body in bodies:
            http.post("/write", params={"db": db}, content=body).raise_for_status()
        elapsed = time.perf_counter() - t0
    return points / elapsed


def timed(fn: Callable[[], object], repeat: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--processes", type=int, default=8, help="worker processes (< ~150 each)")
    ap.add_argument("--reports", type=int, default=10, help="reports per device per phase")
    ap.add_argument("--samples", type=int, default=100, help="samples per report (message)")
    ap.add_argument("--raw-points", type=int, default=500_000)
    ap.add_argument("--agent-dir", type=Path,
                    default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None)
    ap.add_argument("--center-env", nargs="*", default=[], metavar="NAME=VALUE",
                    help="extra environment for the center (e.g. MALLOC_ARENA_MAX=2)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    n = args.devices
    work = Path(tempfile.mkdtemp(prefix="tt-telemetry-bench-"))
    print(f"bench: {n} devices in {args.processes} processes, work dir {work}", flush=True)
    figures: dict[str, Any] = {"devices": n, "samples_per_report": args.samples,
                               "reports_per_device": args.reports}
    broker = MosquittoBroker(work / "broker")
    influx = InfluxServer(work / "influx")
    broker.start()
    influx.start()
    center = CenterProcess(work / "center", port=free_port(), mqtt_port=broker.center_port,
                           mqtt_password=broker.center_password,
                           extra_env={"TT_INFLUX_URL": influx.url, "TT_INFLUX_DB": DB,
                                      "TT_MONITOR_SECONDS": "5", **dict(
                                          e.split("=", 1) for e in args.center_env)})
    workers: list[Worker] = []
    try:
        figures["raw_points_per_s"] = raw_limit(influx, n, args.raw_points)
        print(f"bench: (a) raw line protocol, batches of 5,000: "
              f"{figures['raw_points_per_s']:,.0f} points/s", flush=True)

        center.start()
        api = center.client()
        province = api.post("/api/v1/units", json={"code": "p1", "name": "Tỉnh Bench",
                                                    "level": "province"}).json()
        communes = [api.post("/api/v1/units", json={
            "code": f"x{i}", "name": f"Xã {i}", "level": "commune",
            "parent_id": province["id"]}).json() for i in range(20)]
        print("bench: provisioning devices...", flush=True)
        creds: list[tuple[str, str]] = []
        for i in range(n):
            device_id = f"loa-{i:04d}"
            r = api.post("/api/v1/devices", json={"id": device_id, "name": f"Loa {i}",
                                                  "unit_id": communes[i % 20]["id"]})
            r.raise_for_status()
            creds.append((device_id, r.json()["mqtt_password"]))
        broker.add_users(creds)  # one message to the broker's dynamic-security plugin
        root = Path(tempfile.mkdtemp(prefix="tt-tel-agents-", dir=args.agent_dir))
        for i in range(args.processes):
            workers.append(Worker({"host": broker.host, "port": broker.port,
                                   "data_root": str(root), "samples": args.samples,
                                   "devices": creds[i::args.processes]}, work, i))
        for w in workers:
            if w.wait("ready", 180)["missing"]:
                raise RuntimeError("some devices did not connect")

        def stats() -> dict[str, Any]:
            return dict(api.get("/api/v1/monitoring/telemetry").json())

        def run_phase(name: str, influx_down: bool) -> dict[str, Any]:
            for w in workers:
                w.send(cmd="fill", reports=args.reports)
            total = sum(w.wait("filled", 900)["points"] for w in workers)
            before = stats()["influx"]["counters"]
            base_written = before.get("written", 0)
            base_received = before.get("received", 0)
            if influx_down:
                influx.stop()
            pid = center._proc.pid if center._proc else 0
            rss0 = rss_kb(pid)
            peak_rss, peak_queue, peak_spill = rss0, 0, 0
            marks: dict[str, float] = {}
            counter = "received" if influx_down else "written"
            base = base_received if influx_down else base_written
            t0 = time.perf_counter()
            for w in workers:
                w.send(cmd="go")
            deadline = t0 + 900
            while True:
                s = stats()["influx"]
                done = s["counters"].get(counter, 0) - base
                peak_rss = max(peak_rss, rss_kb(pid))
                peak_queue = max(peak_queue, s["queued_lines"])
                peak_spill = max(peak_spill, s["spill_bytes"])
                now = time.perf_counter()
                for frac in (0.05, 0.95, 1.0):
                    if done >= frac * total and str(frac) not in marks:
                        marks[str(frac)] = now
                if done >= total or now > deadline:
                    break
                time.sleep(0.1)  # another process's counters: poll
            for w in workers:
                w.wait("drained", 600)
            result: dict[str, Any] = {
                "points": total, "seconds": marks.get("1.0", time.perf_counter()) - t0,
                "points_per_s": 0.9 * total / (marks["0.95"] - marks["0.05"]),
                "center_rss_mb_before": rss0 / 1024, "center_rss_mb_peak": peak_rss / 1024,
                "peak_queue_lines": peak_queue, "peak_spill_mb": peak_spill / 2**20}
            if influx_down:
                influx.start()
                t1 = time.perf_counter()
                while stats()["influx"]["spill_lines"] > 0 and time.perf_counter() - t1 < 900:
                    time.sleep(0.2)
                result["replay_s"] = time.perf_counter() - t1
            print(f"bench: ({name}) {json.dumps(result)}", flush=True)
            return result

        figures["path"] = run_phase("b", influx_down=False)
        # The limit again, right after (with the center and workers idle): the ratio uses the
        # higher of the two, so a busy moment during (a) cannot flatter the result.
        figures["raw_points_per_s_after"] = raw_limit(influx, n, args.raw_points, "rawlimit2")
        limit = max(figures["raw_points_per_s"], figures["raw_points_per_s_after"])
        figures["ratio"] = figures["path"]["points_per_s"] / limit
        print(f"bench: (a') raw again: {figures['raw_points_per_s_after']:,.0f} points/s",
              flush=True)
        print(f"bench: (b) whole path: {figures['path']['points_per_s']:,.0f} points/s = "
              f"{figures['ratio']:.2f} of the raw limit ({limit:,.0f})", flush=True)
        figures["influx_down"] = run_phase("c", influx_down=True)
        expected = figures["path"]["points"] + figures["influx_down"]["points"]
        count = influx.query("SELECT count(sample_id) FROM health", DB)
        stored = count["results"][0]["series"][0]["values"][0][1]  # type: ignore[index]
        figures["stored_points"] = stored
        figures["expected_points"] = expected
        print(f"bench: (c) stored {stored:,} of {expected:,} points "
              f"({'exactly once' if stored == expected else 'MISMATCH'})", flush=True)

        from control_center.telemetry.queries import InfluxReader

        reader = InfluxReader(influx.url, DB)
        q_s, last = timed(lambda: reader.last_samples(hours=48))
        reader.close()
        o_s, _ = timed(lambda: api.get("/api/v1/monitoring/overview").raise_for_status())
        figures["overview_influxql_s"] = q_s
        figures["overview_influxql_devices"] = len(last)  # type: ignore[arg-type]
        figures["overview_sql_api_s"] = o_s
        print(f"bench: (d) last sample of {len(last)} devices with InfluxQL: "  # type: ignore[arg-type]
              f"{q_s * 1000:.0f} ms; GET /api/v1/monitoring/overview: {o_s * 1000:.0f} ms",
              flush=True)
        figures["telemetry_counters"] = stats()["influx"]["counters"]
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        return 0 if stored == expected else 1
    finally:
        for w in workers:
            w.stop()
        center.stop()
        influx.stop()
        broker.stop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        raise SystemExit(worker_main(Path(sys.argv[2])))
    raise SystemExit(main())
