"""Benchmark: one province's fleet (1,000 to 10,000 simulated devices) on one center.

Each figure is printed beside the raw limit measured in the same run with the fastest raw
client we have (bench/raw_mqtt.py) and their ratio:

  1. one schedule to the whole province: API call -> the broker acknowledged every device's
     manifest (``published_at``), against one connection publishing the same signed bytes,
     QoS 1 retained, pipelined;
  2. the same until every simulated device verified and stored it (the devices' own stamps),
     against the raw publish's delivery to the same devices; and the device-side CPU per
     manifest (verify + parse + store, ``time.process_time`` in the simulator);
  3. a broker restart: broker ready -> every device reconnected and holds its manifest again,
     against raw clients reconnecting and getting their retained message;
  4. one play instant on every device: 2 events each, stored exactly once; instant -> all
     stored, events per second, against a raw subscriber counting as many QoS 1 messages;
  5. p50/p99 of GET /api/v1/devices and POST /api/v1/schedules while 1-4 run;
  6. the center's memory (VmRSS of its processes).

Usage: .venv/bin/python bench/fleet.py --devices 1000,5000,10000 [--database sqlite]
       [--center-workers N] [--workers N] [--profile DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.children import JsonLinesChild  # noqa: E402
from bench.fleet_setup import (  # noqa: E402
    ApiProbe,
    Profiler,
    Province,
    rss_kb,
    serve_has_workers,
    summarise_profile,
)
from firmware_sim.fleetsim.coordinator import (  # noqa: E402
    Fleet,
    connects_per_process,
    default_workers,
)

PLAY_TYPES = ("play_started", "play_completed")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def line(name: str, value_s: float, raw_s: float | None = None, goal: str = "") -> None:
    text = f"  {name}: {value_s * 1000:.0f} ms"
    if raw_s:
        text += f"   raw {raw_s * 1000:.0f} ms   ratio {value_s / raw_s:.2f}"
    print(text + (f"   ({goal})" if goal else ""), flush=True)


class Raw(JsonLinesChild):
    """One bench/raw_mqtt.py process: ready, go, result."""

    def __init__(self, mode: str, spec: dict[str, Any], work: Path, tag: str) -> None:
        path = work / f"raw-{tag}.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        super().__init__([sys.executable, str(REPO / "bench" / "raw_mqtt.py"), mode, str(path)],
                         work / f"raw-{tag}.log", stdin=True)
        self.wait_until(lambda: any(e["ev"] == "ready" for e in self.events), 120, "ready")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self, timeout: float = 180) -> dict[str, Any]:
        self.wait_until(lambda: any(e["ev"] == "result" for e in self.events), timeout, "result")
        self.proc.wait(timeout=30)
        return next(e for e in self.events if e["ev"] == "result")


def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    load = os.getloadavg()
    print(f"\n== {n} devices   load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}   "
          f"database {args.database}   center workers {args.center_workers}", flush=True)
    work = Path(tempfile.mkdtemp(prefix=f"tt-fleet-{n}-"))
    stores = Path(tempfile.mkdtemp(prefix=f"tt-fleet-stores-{n}-", dir=args.store_dir))
    province = Province(work, n, database=args.database, center_workers=args.center_workers)
    fleet: Fleet | None = None
    probe: ApiProbe | None = None
    fig: dict[str, Any] = {"devices": n, "database": args.database, "load": load[0],
                           "center_workers": args.center_workers}
    try:
        fig.update(province.up())
        print(f"  province: {n} devices imported in {fig['import_s']:.1f} s "
              f"(units {fig['units_s']:.1f} s)", flush=True)
        assert province.center is not None and province.center.pid is not None
        center_pid = province.center.pid
        fleet = Fleet(province.devices, host=province.broker.host, port=province.broker.port,
                      public_keys=[province.center.public_key()], store_dir=stores,
                      work_dir=work / "fleet", workers=args.workers)
        ready = fleet.start(timeout=600)
        fleet.wait_until(lambda: len({m.device for m in fleet.manifests
                                      if m.outcome == "accepted"}) >= n, 600,
                         "first manifests", lambda: f"{len(fleet.manifests)} manifests")
        fig["fleet"] = {"workers": fleet.worker_count, "connect_s": round(ready["connect_s"], 2),
                        "rss_mb": round(fleet.rss_kb() / 1024),
                        "stores_rss_mb": round(ready["stores_rss_kb"] / 1024)}
        print(f"  fleet: {n} devices in {fleet.worker_count} processes connected in "
              f"{ready['connect_s']:.1f} s; simulator RSS {fig['fleet']['rss_mb']} MB "
              f"(stores {fig['fleet']['stores_rss_mb']} MB)", flush=True)
        started = time.time()
        settle(province, n)
        settle_s = time.time() - started
        fig["first_acks_stored_s"] = round(settle_s, 1)
        print(f"  the center stored every device's first acknowledgement {settle_s:.1f} s after "
              "the fleet connected", flush=True)
        probe = ApiProbe(province, period_s=args.probe_period)
        probe.start()

        # -- 1 and 2: one schedule to the whole province ---------------------------------
        probe.phase = "1-2 schedule"
        # the play instant must come after phase 1, its raw side and the center storing
        # every device's acknowledgement (as slow as the first ones were)
        lead = args.lead or max(30.0, 1.5 * settle_s + n / 300 + 20)
        start_at = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
        profiler = Profiler(center_pid, args.profile / f"phase1-{n}.txt") if args.profile else None
        t_call = time.time()
        schedule = province.schedule(start_at)
        t_api = time.time() - t_call
        mark = f"s{schedule['id']}r"
        fleet.wait_until(lambda: len({m.device for m in fleet.manifests if m.outcome == "accepted"
                                      and any(i.startswith(mark) for i in m.items)}) >= n,
                         600, "the schedule on every device",
                         lambda: f"{sum(1 for m in fleet.manifests if m.received > t_call)} held")
        if profiler:
            profiler.stop()
        held = [m for m in fleet.manifests if m.outcome == "accepted"
                and any(i.startswith(mark) for i in m.items)]
        stored_s = max(m.done for m in held) - t_call
        states = province.manifests()
        published = [p.timestamp() for _, _, p in states.values() if p is not None]
        if len(published) < n:
            raise RuntimeError(f"only {len(published)} of {n} manifests acknowledged")
        acked_s = max(published) - t_call
        cpu = [m.cpu_s for m in held]

        # raw: the same signed bytes to the same topics, retained, to the same subscribers
        raw = Raw("publish", {
            "host": province.broker.host, "port": province.broker.center_port,
            "username": "center", "password": province.broker.center_password,
            "messages": [[f"tt/v1/dev/{d}/manifest", body] for d, (_, body, _) in states.items()],
        }, work, "publish")
        before = len(fleet.manifests)
        raw.go()
        result = raw.result()
        raw_acked_s = result["done"] - result["started"]
        fleet.wait_until(lambda: len({m.device for m in fleet.manifests[before:]}) >= n, 120,
                         "the raw copies on every device")
        raw_held_s = max(m.received for m in fleet.manifests[before:]) - result["started"]
        fig["schedule"] = {
            "api_call_ms": round(t_api * 1000), "broker_acked_ms": round(acked_s * 1000),
            "raw_publish_ms": round(raw_acked_s * 1000),
            "ratio_acked": round(acked_s / raw_acked_s, 2),
            "devices_stored_ms": round(stored_s * 1000),
            "raw_delivered_ms": round(raw_held_s * 1000),
            "ratio_stored": round(stored_s / raw_held_s, 2),
            "manifest_bytes": round(result["bytes"] / n),
            "device_cpu_ms": {"mean": round(statistics.mean(cpu) * 1000, 3),
                              "p99": round(pct(cpu, 0.99) * 1000, 3)}}
        print(f"  1. schedule, API call -> broker acked all (API call itself "
              f"{t_api * 1000:.0f} ms, {result['bytes'] / n:.0f} B each):", flush=True)
        line("     broker acked every manifest", acked_s, raw_acked_s, "goal <= 2x")
        line("  2. every device verified and stored", stored_s, raw_held_s)
        print(f"     device CPU per manifest (verify+parse+store): mean "
              f"{statistics.mean(cpu) * 1000:.3f} ms, p99 {pct(cpu, 0.99) * 1000:.3f} ms",
              flush=True)

        acks_stored = wait_events(province, 2 * n, 600, types=("manifest_accepted",))
        fig["schedule"]["acks_stored_ms"] = round((acks_stored - t_call) * 1000)
        print(f"     API call -> the center stored every device's acknowledgement: "
              f"{(acks_stored - t_call) * 1000:.0f} ms", flush=True)

        # -- 4: one play instant on every device ----------------------------------------
        probe.phase = "4 play"
        wait = start_at.timestamp() - time.time()
        if wait < 1:
            raise RuntimeError(f"--lead {lead:.0f} s was too short: the play instant passed "
                               "before the acknowledgements of phase 1 were stored")
        time.sleep(wait - 0.6)
        profiler = Profiler(center_pid, args.profile / f"phase4-{n}.txt") if args.profile else None
        instant = start_at.timestamp()
        fleet.wait_until(lambda: len([p for p in fleet.plays if p.item_id.startswith(mark)]) >= n,
                         120, "every device played")
        first_event = min(p.at for p in fleet.plays if p.item_id.startswith(mark))
        drained = wait_events(province, 2 * n, timeout=600)
        if profiler:
            profiler.stop()
        stored = province.count_events(PLAY_TYPES)
        rows = province.play_rows(schedule["id"])
        raw = Raw("events", {"host": province.broker.host, "port": province.broker.center_port,
                             "username": "center", "password": province.broker.center_password,
                             "count": 2 * n, "size": 420}, work, "events")
        raw.go()
        result = raw.result()
        raw_events_s = result["done"] - result["started"]
        drain_s = drained - instant
        fig["play"] = {"events_stored": stored, "events_expected": 2 * n,
                       "play_rows": dict(rows), "instant_to_stored_ms": round(drain_s * 1000),
                       "first_event_lag_ms": round((first_event - instant) * 1000),
                       "events_per_s": round(2 * n / (drained - first_event)),
                       "raw_ms": round(raw_events_s * 1000),
                       "raw_events_per_s": round(2 * n / raw_events_s),
                       "ratio": round((drained - first_event) / raw_events_s, 2)}
        print(f"  4. play instant: {stored} play events stored (expected {2 * n}); rows "
              f"{dict(rows)}", flush=True)
        line("     first event -> all stored", drained - first_event, raw_events_s)
        print(f"     instant -> all stored {drain_s * 1000:.0f} ms; "
              f"{fig['play']['events_per_s']} events/s (raw {fig['play']['raw_events_per_s']})",
              flush=True)
        if stored != 2 * n or rows.get("completed") != n:
            raise RuntimeError(f"{stored} play events stored, expected exactly {2 * n}; play "
                               f"rows {dict(rows)}, expected {n} completed")

        # -- 6: the center's memory ------------------------------------------------------
        fig["center_rss_mb"] = round(rss_kb(center_pid) / 1024)
        print(f"  6. center memory (VmRSS, all its processes): {fig['center_rss_mb']} MB",
              flush=True)

        # -- 3: broker restart -----------------------------------------------------------
        probe.phase = "3 restart"
        versions = {d: v for d, (v, _, _) in province.manifests().items()}
        t_stop = time.time()
        province.broker.stop()
        t_launch = time.time()  # from here: the devices are already retrying, as raw's are
        province.broker.start()
        t_ready = time.time()
        fleet.wait_until(lambda: len({m.device for m in fleet.manifests if m.received > t_launch
                                      and m.version >= versions[m.device]}) >= n, 300,
                         "every device holding its manifest again",
                         lambda: f"{len({d for d, t in fleet.connects if t > t_launch})} back")
        back = [m.received for m in fleet.manifests if m.received > t_launch]
        restart_s = max(back) - t_launch
        probe.stop()
        fleet.stop()
        fleet = None
        province.broker.stop()
        processes = args_workers(args, n)
        raws = [Raw("reconnect", {"host": province.broker.host, "port": province.broker.port,
                                  "devices": [list(d) for d in province.devices[i::processes]],
                                  "connects_in_flight": connects_per_process(processes)},
                    work, f"reconnect-{i}")
                for i in range(processes)]
        for r in raws:
            r.go()  # they retry every 50 ms until the broker listens
        t_raw_launch = time.time()
        province.broker.start()
        raw_restart_s = max(r.result()["done"] for r in raws) - t_raw_launch
        fig["restart"] = {"broker_stop_ms": round((t_launch - t_stop) * 1000),
                          "broker_start_ms": round((t_ready - t_launch) * 1000),
                          "devices_hold_ms": round(restart_s * 1000),
                          "raw_ms": round(raw_restart_s * 1000),
                          "ratio": round(restart_s / raw_restart_s, 2)}
        line("  3. broker restart: launch -> every device holds its manifest", restart_s,
             raw_restart_s, "goal <= 1.5x")

        # -- 5: API latency while the phases ran ------------------------------------------
        fig["api"] = {}
        print("  5. API latency while 1-4 ran (p50 / p99 / max, samples):", flush=True)
        routes = sorted({route for _, route in probe.samples})
        for route in routes:
            values = [v for (phase, r), vs in probe.samples.items() if r == route
                      and phase != "idle" for v in vs]
            fig["api"][route] = {"p50_ms": round(pct(values, 0.5) * 1000),
                                 "p99_ms": round(pct(values, 0.99) * 1000),
                                 "max_ms": round(max(values) * 1000), "samples": len(values)}
            print(f"     {route}: {pct(values, 0.5) * 1000:.0f} / {pct(values, 0.99) * 1000:.0f}"
                  f" / {max(values) * 1000:.0f} ms ({len(values)})", flush=True)
        if probe.failures:
            print(f"     failures: {dict(probe.failures)}", flush=True)
            fig["api"]["failures"] = dict(probe.failures)
        if args.profile:
            for phase in ("phase1", "phase4"):
                path = args.profile / f"{phase}-{n}.txt"
                print(f"  profile {phase} ({path}):")
                for text in summarise_profile(path):
                    print("   " + text)
        return fig
    finally:
        if probe is not None and probe.is_alive():
            probe.stop()
        if fleet is not None:
            fleet.stop()
        province.down()
        shutil.rmtree(stores, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def args_workers(args: argparse.Namespace, n: int) -> int:
    return int(args.workers or default_workers(n))


def settle(province: Province, n: int, timeout: float = 600) -> None:
    """Wait until the center stored every device's first acknowledgement (a quiet start)."""
    wait_events(province, n, timeout, types=("manifest_accepted",))


def wait_events(province: Province, count: int, timeout: float,
                types: tuple[str, ...] = PLAY_TYPES) -> float:
    """When the center's database held ``count`` events of ``types`` (polled every 50 ms)."""
    deadline = time.monotonic() + timeout
    shown = time.monotonic()
    while time.monotonic() < deadline:
        stored = province.count_events(types)
        if stored >= count:
            return time.time()
        if time.monotonic() - shown > 5:
            print(f"  ... {stored} of {count} {'/'.join(types)} stored", flush=True)
            shown = time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"the center stored fewer than {count} {types} in {timeout:.0f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--devices", default="1000,5000,10000",
                    help="comma-separated fleet sizes (default 1000,5000,10000)")
    ap.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--center-workers", type=int, default=1,
                    help="serve --workers N (when the center has that option)")
    ap.add_argument("--workers", type=int, default=None,
                    help="simulator processes (default: one per core, more past ~4,000 "
                         "devices each for file descriptors)")
    ap.add_argument("--lead", type=float, default=None,
                    help="seconds from the schedule call to its play instant")
    ap.add_argument("--store-dir", type=Path,
                    default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None,
                    help="where the devices' SQLite stores go (default /dev/shm: each real "
                         "device has its own flash; thousands fsyncing one disk would measure "
                         "that disk)")
    ap.add_argument("--profile", type=Path, default=None,
                    help="record the center with py-spy during phases 1 and 4 into this folder")
    ap.add_argument("--probe-period", type=float, default=1.0,
                    help="seconds between the API probe's GET /devices + POST /schedules pairs")
    ap.add_argument("--keep", action="store_true", help="keep the work folders (logs)")
    ap.add_argument("--json", type=Path, default=None, help="append one JSON line per size")
    args = ap.parse_args()
    if args.center_workers > 1 and not serve_has_workers():
        print("the center has no serve --workers yet: running one process", flush=True)
        args.center_workers = 1
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    for n in (int(x) for x in args.devices.split(",")):
        fig = run_size(n, args)
        print(json.dumps(fig), flush=True)
        if args.json:
            with args.json.open("a", encoding="utf-8") as out:
                out.write(json.dumps(fig) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
