"""Benchmark: two centers linked as a federation (docs/federation.md), measured end to end.

Two real centers (processes, each with its own broker and SQLite database) reach each other
only through a network namespace's link (a TCP relay inside it, as in tests/federation), the
province's loudspeakers are real agents in ``python -m firmware_sim fleet`` processes.
Reported, each beside a limit measured in the same run:
  1. a central emergency to the province's speakers playing (first and last sink start), over
     10 then 100 speakers, beside the same emergency sent at the province (the console's
     ``POST /api/v1/emergency``); the province's speech (TTS, media pipeline) timed alone;
  2. catch-up after a cut of several minutes (M bulletins sent, others decided during it):
     until both outboxes are empty and every state is at the central center, checked exactly
     once; beside the backoff cap (30 s) plus a batch's round trip on the restored link;
  3. bytes: each kind's signed envelope, request and answer; on the wire; the catch-up's.

Needs root (a network namespace). Usage: .venv/bin/python bench/federation.py [--runs 5]
[--speakers 10,100] [--cut-minutes 5] [--bulletins 50]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.fanout import FleetWorker  # noqa: E402
from bench.federation_steps import Run  # noqa: E402
from bench.federation_steps import report as steps_report  # noqa: E402
from bench.live import link_bytes, say  # noqa: E402
from control_center.federation.messages import MAX_BATCH  # noqa: E402
from control_center.services.emergency_checks import CONFIRM_WORD  # noqa: E402
from control_center.workers.federation_link import BACKOFF_MAX_S  # noqa: E402
from firmware_sim.broker import MosquittoBroker  # noqa: E402
from firmware_sim.center_process import CenterProcess  # noqa: E402
from firmware_sim.local_server import free_port  # noqa: E402
from media.pipeline import process  # noqa: E402
from media.tts import speak  # noqa: E402
from media.tts.engines import engine_from_env  # noqa: E402
from tests.federation.conftest import _relay  # noqa: E402
from tests.support.netns import Namespace, isolated_namespace  # noqa: E402
from tests.support.tree import add_device, add_unit  # noqa: E402

ALARM = ("Cảnh báo lũ quét số {n}: mưa lớn kéo dài, nước sông dâng nhanh. Người dân các xã "
         "ven sông di chuyển ngay lên vùng cao, không qua ngầm tràn.")
VOICE = ("voice_sha256", "voice_error")
RECEIVED = "SELECT count(*) FROM federation_received"


class Site:
    """One center process with its broker; reads its own SQLite database for the checks."""

    def __init__(self, stack: ExitStack, work: Path, name: str, host: str,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.broker = stack.enter_context(MosquittoBroker(work / name / "broker"))
        self.proc = CenterProcess(work / name / "center", port=free_port(), host=host,
                                  mqtt_port=self.broker.center_port,
                                  mqtt_password=self.broker.center_password,
                                  extra_env={"TT_CENTER_ID": name, **(env or {})})
        self.proc.start(timeout=60)
        stack.callback(self.proc.stop)
        self.api = self.proc.client()
        stack.callback(self.api.close)

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.api.request(method, path, **kw)
        if r.status_code >= 300:
            raise RuntimeError(f"{self.name} {method} {path}: {r.status_code} {r.text[:300]}")
        return r.json()

    def sql(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(f"file:{self.proc.data_dir / 'center.db'}?mode=ro",
                                     uri=True)) as db:
            return db.execute(query, args).fetchall()

    def rows(self, direction: str) -> list[dict[str, Any]]:
        return list(self.call("GET", "/api/v1/federation/bulletins",
                              params={"direction": direction})["items"])

    def states(self, direction: str) -> dict[str, str]:
        return {r["remote_ref"]: r["state"] for r in self.rows(direction)}

    def pending(self) -> int:
        return sum(int(p["pending"]) for p in self.call("GET", "/api/v1/federation/peers")["items"])


def link(central: Site, province: Site, stack: ExitStack,
         ns: Namespace | None = None) -> tuple[int, dict[str, Any]]:
    """The national tree at the central center, the province's tree, each registering the
    other by its published key and its URL (through the namespace's relay, given one)."""
    province_via, central_via = (province.proc.base_url, central.proc.base_url) if ns is None \
        else (_relay(stack, ns, 18080, province.proc.base_url),
              _relay(stack, ns, 18081, central.proc.base_url))
    mirror = add_unit(central.api, "tinh-x", "province", add_unit(central.api, "vn", "central",
                                                                  name="Trung ương"))
    root = add_unit(province.api, "tinh-x", "province", name="Tỉnh X")
    c_id = central.call("GET", "/api/v1/federation/identity")
    p_id = province.call("GET", "/api/v1/federation/identity")
    peer = central.call("POST", "/api/v1/federation/peers", json={
        "center_id": p_id["center_id"], "name": "Tỉnh X", "url": province_via,
        "public_key": p_id["public_key"], "role": "child", "unit_id": mirror["id"]})
    province.call("POST", "/api/v1/federation/peers", json={
        "center_id": c_id["center_id"], "name": "Trung ương", "url": central_via,
        "public_key": c_id["public_key"], "role": "parent"})
    return int(peer["id"]), root


def add_speakers(province: Site, root: dict[str, Any], work: Path, first: int, count: int,
                 processes: int) -> list[FleetWorker]:
    """``count`` loudspeakers in communes of the province (10 a commune), run as agents."""
    key = province.proc.public_key()
    communes: dict[int, dict[str, Any]] = {}
    configs = []
    for i in range(first, first + count):
        if i // 10 not in communes:
            communes[i // 10] = add_unit(province.api, f"xa-{i // 10:03d}", "commune", root)
        device = f"loa-{i:03d}"
        created = add_device(province.api, device, communes[i // 10], broker=province.broker)
        path = work / "configs" / f"{device}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({
            "device_id": device, "data_dir": str(work / "agents" / device),
            "center_public_keys": [key],
            "mqtt": {"host": province.broker.host, "port": province.broker.port,
                     "password": created["mqtt_password"], "keepalive_s": 30}}))
        configs.append(path)
    workers = [FleetWorker(configs[p::processes], work / f"fleet-{first}-{p}.log")
               for p in range(processes)]
    for w in workers:
        w.wait("ready", lambda e: not e["missing"], 120)
    return workers


def plays_after(workers: list[FleetWorker], since: float, timeout: float = 180) -> list[float]:
    """Each speaker's first play start after ``since`` (waits for every speaker)."""
    def starts(w: FleetWorker) -> dict[str, float]:
        found: dict[str, float] = {}
        for e in w.events:
            if e["ev"] == "play" and e["started_at"] >= since:
                found.setdefault(e["device_id"], e["started_at"])
        return found
    out: list[float] = []
    for w in workers:
        w.wait_until(lambda w=w: len(starts(w)) == len(w.devices), timeout,  # type: ignore[misc]
                     "a play on every speaker")
        out += starts(w).values()
    return sorted(out)


def emergency_runs(central: Site, province: Site, peer_id: int, root: dict[str, Any],
                   workers: list[FleetWorker], runs: int, size: int) -> dict[str, list[float]]:
    """One emergency each way a run, in turns first; their texts differ by a number only."""
    got: dict[str, list[float]] = {k: [] for k in (
        "fed_first", "fed_last", "fed_link", "direct_first", "direct_last", "direct_answer")}
    order: list[Run] = []

    def via_central(n: int) -> None:
        bulletin = central.call("POST", "/api/v1/bulletins", json={
            "title": f"Khẩn cấp {n}", "kind": "text", "text": ALARM.format(n=n),
            "priority": "emergency"})
        end = time.time() + 60  # the central's own voice of it is made first: not measured
        while time.time() < end and not any(central.call("GET", f"/api/v1/bulletins/"
                                             f"{bulletin['id']}").get(f) for f in VOICE):
            time.sleep(0.2)
        t0 = time.time()
        central.call("POST", "/api/v1/federation/bulletins", json={
            "bulletin_id": bulletin["id"], "peer_ids": [peer_id], "valid_minutes": 10})
        starts = plays_after(workers, t0)
        (at,) = province.sql("SELECT at FROM emergency_broadcasts ORDER BY id DESC LIMIT 1")[0]
        got["fed_link"].append(_utc(at).timestamp() - t0)  # the province began to apply it
        got["fed_first"].append(starts[0] - t0)
        got["fed_last"].append(starts[-1] - t0)
        order.append(Run(True, t0, starts[0]))

    def direct(n: int) -> None:
        t0 = time.time()
        province.call("POST", "/api/v1/emergency", json={
            "unit_ids": [root["id"]], "confirm": CONFIRM_WORD, "valid_minutes": 10,
            "text": ALARM.format(n=n), "title": f"Trực tiếp {n}"})
        got["direct_answer"].append(time.time() - t0)  # spoken, processed and published
        starts = plays_after(workers, t0)
        got["direct_first"].append(starts[0] - t0)
        got["direct_last"].append(starts[-1] - t0)
        order.append(Run(False, t0, starts[0]))

    for k in range(runs):
        n = size * 100 + 2 * k
        for path in (via_central, direct) if k % 2 == 0 else (direct, via_central):
            path(n if path is via_central else n + 1)
            time.sleep(1)  # a speaker's play event comes when its play ends: the acks settle
        print(f"  run {k + 1}: central {got['fed_first'][-1]:.2f}/{got['fed_last'][-1]:.2f} s,"
              f" direct {got['direct_first'][-1]:.2f}/{got['direct_last'][-1]:.2f} s "
              f"(first/last speaker)", flush=True)
    steps_report(province.proc.data_dir / "center.log", order, size)
    return got


def speech_alone(work: Path, runs: int) -> tuple[list[float], list[float]]:
    """The province's speech for an emergency's text, timed alone: TTS, then the pipeline."""
    tts, pipeline = [], []
    engine = engine_from_env()
    for k in range(runs):
        wav = work / f"speech-{k}.wav"
        t0 = time.perf_counter()
        speak(ALARM.format(n=f"tts-{k}"), wav, engine=engine)
        t1 = time.perf_counter()
        process(wav, work / "renditions")
        tts.append(t1 - t0)
        pipeline.append(time.perf_counter() - t1)
    return tts, pipeline


def _utc(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def next_try_s(site: Site) -> float:
    """Seconds until the oldest waiting message is tried again (0 when none waits)."""
    rows = site.sql("SELECT next_try_at FROM federation_outbox WHERE delivered_at IS NULL "
                    "ORDER BY id LIMIT 1")
    return max(0.0, (_utc(rows[0][0]) - datetime.now(UTC)).total_seconds()) if rows else 0.0


def send_normal(central: Site, peer_id: int, title: str) -> None:
    bulletin = central.call("POST", "/api/v1/bulletins", json={
        "title": title, "kind": "text", "priority": "normal",
        "text": f"{title}: thông báo của trung ương gửi các tỉnh."})
    central.call("POST", "/api/v1/federation/bulletins", json={
        "bulletin_id": bulletin["id"], "peer_ids": [peer_id]})


def catch_up(central: Site, province: Site, peer_id: int, ns: Namespace, cut_s: float,
             bulletins: int, province_url: str) -> None:
    decided = 10
    for n in range(decided):
        send_normal(central, peer_id, f"Trước khi mất kết nối {n}")
    deadline = time.time() + 120
    while not (len(province.rows("in")) >= decided and central.pending() == 0
               and province.pending() == 0):
        if time.time() > deadline:
            raise RuntimeError("the bulletins before the cut did not cross")
        time.sleep(0.2)
    inbox = [r for r in province.rows("in") if r["state"] == "inbox"][:decided]
    ns.cut()
    cut_at = time.time()
    for n in range(bulletins):
        send_normal(central, peer_id, f"Trong lúc mất kết nối {n}")
    slot = {"start_at": (datetime.now(UTC) + timedelta(hours=3)).replace(
        microsecond=0).isoformat()}
    for i, row in enumerate(inbox):
        if i % 2:
            province.call("POST", f"/api/v1/federation/bulletins/{row['id']}/accept",
                          json={"slot": slot})
        else:
            province.call("POST", f"/api/v1/federation/bulletins/{row['id']}/decline",
                          json={"note": "trùng nội dung đã phát"})
    print(f"bench: link cut; {bulletins} bulletins sent and {len(inbox)} decided during it; "
          f"waiting {cut_s:.0f} s", flush=True)
    time.sleep(max(0.0, cut_at + cut_s - time.time()))
    waits, held = (next_try_s(central), next_try_s(province)), (central.pending(),
                                                                 province.pending())
    crossed = sum(int(s.sql(RECEIVED)[0][0]) for s in (central, province))  # already there
    before = link_bytes(ns.host_if)
    ns.restore()
    back = time.time()
    while not (central.pending() == 0 and province.pending() == 0
               and central.states("out") == province.states("in")):
        if time.time() - back > 300:
            raise RuntimeError("no convergence within 5 minutes of the restore")
        time.sleep(0.1)
    converged = time.time() - back
    moved = (link_bytes(ns.host_if) - before) / 2  # every byte crosses the link twice (relay)
    # exactly once: each message the sender sent is one received row, none twice
    sent_b = central.sql("SELECT count(*) FROM federation_outbox WHERE kind='bulletin'")[0][0]
    sent_s = province.sql("SELECT count(*) FROM federation_outbox WHERE kind='bulletin_state'")
    got_b = province.sql("SELECT count(*), count(DISTINCT message_id) FROM federation_received "
                         "WHERE kind='bulletin'")[0]
    got_s = central.sql("SELECT count(*), count(DISTINCT message_id) FROM federation_received "
                        "WHERE kind='bulletin_state'")[0]
    outcomes = Counter(o for (o,) in central.sql(
        "SELECT outcome FROM federation_outbox WHERE kind='bulletin'"))
    once = got_b == (sent_b, sent_b) and got_s == (sent_s[0][0], sent_s[0][0])
    print(f"catch-up: cut {back - cut_at:.0f} s; messages waiting at the restore: central "
          f"{held[0]}, province {held[1]}; their next try due {waits[0]:.1f} s / "
          f"{waits[1]:.1f} s after it", flush=True)
    print(f"exactly once: bulletins sent {sent_b}, received rows {got_b[0]} ({got_b[1]} "
          f"distinct); states sent {sent_s[0][0]}, received rows {got_s[0]} ({got_s[1]} "
          f"distinct); sender's outcomes {dict(outcomes)}: {'OK' if once else 'FAILED'}",
          flush=True)
    # one batch round trip on the restored link: the cut's bulletins again (duplicates)
    envelopes = [e for (e,) in central.sql(
        "SELECT envelope FROM federation_outbox WHERE kind='bulletin' ORDER BY id DESC LIMIT ?",
        MAX_BATCH)]
    t0 = time.perf_counter()
    answer = httpx.post(f"{province_url}/api/v1/federation/messages",
                        json={"messages": envelopes}, timeout=30)
    rtt = time.perf_counter() - t0
    assert {r["outcome"] for r in answer.json()["receipts"]} == {"duplicate"}, answer.text
    say("catch_up_after_restore", converged, " s", BACKOFF_MAX_S + rtt,
        "backoff cap + batch round trip")
    say("catch_up_vs_due_retry", converged, " s", max(waits) + rtt,
        "sender's due retry + batch round trip")
    say(f"batch_round_trip[{len(envelopes)} duplicates]", rtt * 1000, " ms")
    say("catch_up_link_bytes", moved / 1000, " kB")
    crossed = sum(int(s.sql(RECEIVED)[0][0]) for s in (central, province)) - crossed
    print(f"  = {moved / max(1, crossed):.0f} B a message on the link ({crossed} crossed; "
          f"TCP/IP, HTTP and the answers included)", flush=True)


def sizes(central: Site, province: Site, ns: Namespace, province_url: str) -> None:
    """Each kind's envelope as stored, in a request of one, its answer, and on the wire."""
    for site in (central, province):
        for kind, n, avg, top in site.sql(
                "SELECT kind, count(*), avg(length(CAST(envelope AS BLOB))), "
                "max(length(CAST(envelope AS BLOB))) FROM federation_outbox GROUP BY kind"):
            print(f"envelope {kind} ({site.name} -> peer): {avg:.0f} B mean, {top} B max "
                  f"over {n}", flush=True)
    (envelope,) = central.sql("SELECT envelope FROM federation_outbox WHERE kind='bulletin' "
                              "ORDER BY id DESC LIMIT 1")[0]
    url = f"{province_url}/api/v1/federation/messages"
    request = httpx.Request("POST", url, json={"messages": [envelope]})
    before = link_bytes(ns.host_if)
    answer = httpx.post(url, json={"messages": [envelope]}, timeout=30)
    wire = (link_bytes(ns.host_if) - before) / 2
    print(f"one bulletin: request body {len(request.content)} B, answer body "
          f"{len(answer.content)} B, on the link (new connection, headers, TCP/IP) "
          f"{wire:.0f} B", flush=True)


def report_emergency(size: int, got: dict[str, list[float]]) -> None:
    for what in ("first", "last"):
        fed, direct = got[f"fed_{what}"], got[f"direct_{what}"]
        say(f"central_emergency_to_{what}_speaker_p50[{size}]", statistics.median(fed), " s",
            statistics.median(direct), "direct at the province")
        say(f"central_emergency_to_{what}_speaker_max[{size}]", max(fed), " s", max(direct),
            "direct at the province")
    say(f"central_to_province_applying_p50[{size}]", statistics.median(got["fed_link"]), " s")
    say(f"direct_post_answered_p50[{size}] (speech + publish)",
        statistics.median(got["direct_answer"]), " s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="emergencies per size and path")
    ap.add_argument("--speakers", default="10,100", help="speaker counts, ascending")
    ap.add_argument("--cut-minutes", type=float, default=5.0)
    ap.add_argument("--bulletins", type=int, default=50, help="sent during the cut")
    args = ap.parse_args()
    counts = [int(s) for s in args.speakers.split(",")]
    work = Path(tempfile.mkdtemp(prefix="tt-fed-", dir="/dev/shm"))
    print(f"bench: work dir {work}", flush=True)
    with ExitStack() as stack:
        ns = stack.enter_context(isolated_namespace("ttfb"))
        central = Site(stack, work, "central", ns.host_ip)
        province = Site(stack, work, "province-x", ns.host_ip)
        peer_id, root = link(central, province, stack, ns)
        province_url = f"http://{ns.agent_ip}:18080"
        workers: list[FleetWorker] = []

        def stop_fleets() -> None:
            for w in workers:
                w.stop()

        stack.callback(stop_fleets)
        tts, pipeline = speech_alone(work, args.runs)
        say("tts_alone_p50", statistics.median(tts), " s")
        say("speech_pipeline_alone_p50", statistics.median(pipeline), " s")
        have = 0
        for size in counts:
            workers += add_speakers(province, root, work, have, size - have,
                                    max(1, (size - have + 49) // 50))
            have = size
            print(f"bench: {size} speakers ready", flush=True)
            report_emergency(size, emergency_runs(central, province, peer_id, root, workers,
                                                  args.runs, size))
        catch_up(central, province, peer_id, ns, args.cut_minutes * 60, args.bulletins,
                 province_url)
        sizes(central, province, ns, province_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
