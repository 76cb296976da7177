"""Benchmark: live audio from mouth to speaker, in step across speakers, over a thin link.

A click source stands in for an operator's microphone: it writes 48 kHz samples in real time
(a 5 ms burst every 2 s, its instant noted), encodes them with ffmpeg (Ogg/Opus 32 kbps) and
posts them every 250 ms to a live session of a real center, exactly as the console does.
Real agents (processes of ``python -m firmware_sim fleet``) pull, verify, decode and play the
segments into simulated live sinks that keep what they played with the instants they played
it; the clicks are found again in those samples. Reported, each beside a limit measured in
the same run:
  - mouth-to-speaker latency (p50, p95) over 10 and 100 speakers, beside the floor of the
    engine itself (click to its segment being written and signed at the center);
  - inter-speaker skew per click (p50, p99, max), beside how far apart this machine wakes
    the same number of threads for one instant (the scheduling floor);
  - one speaker in its own network namespace behind ``tc tbf`` at 64 kbit/s each way: blocks
    (discontinuities) while the link is whole, recovery after a 10 s cut, and bytes per
    minute on its link, beside the Opus media alone and the link's capacity.

Needs root (namespaces, tc). Usage: .venv/bin/python bench/live.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.children import JsonLinesChild  # noqa: E402
from firmware_sim.broker import MosquittoBroker  # noqa: E402
from firmware_sim.center_process import CenterProcess  # noqa: E402
from firmware_sim.live_sink import read_live_log  # noqa: E402
from firmware_sim.local_server import free_port  # noqa: E402
from tests.live.station import UpstreamStation  # noqa: E402
from tests.support.netns import Namespace, isolated_namespace  # noqa: E402

RATE = 48_000
FRAME = 960  # 20 ms
CLICK_S = 0.005
GAPS_S = (1.7, 2.3, 1.9, 2.9, 2.1, 2.6)
"""Seconds between clicks, irregular: a click heard is matched to its own, not a neighbour."""
THRESHOLD = int(0.3 * 32767)


class ClickSource:
    """A microphone that clicks, encoded and posted like the console's recorder."""

    def __init__(self, api: httpx.Client, session_id: str) -> None:
        self._api = api
        self._session = session_id
        self.clicks: list[float] = []
        self.started = 0.0  # the instant of the first sample
        self.posted = 0
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._enc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-probesize", "32",
             "-analyzeduration", "0", "-f", "s16le", "-ar", str(RATE), "-ac", "1",
             "-i", "pipe:0", "-c:a", "libopus", "-b:a", "32k", "-frame_duration",
             "20", "-application", "voip", "-f", "ogg", "-page_duration", "20000",
             "-flush_packets", "1", "pipe:1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, seconds: float) -> None:
        reader = threading.Thread(target=self._read, daemon=True)
        poster = threading.Thread(target=self._post_loop, daemon=True)
        reader.start()
        poster.start()
        click = b"".join(int(30000 * (1 if (i // 12) % 2 == 0 else -1)).to_bytes(2, "little",
                                                                               signed=True)
                         for i in range(int(CLICK_S * RATE)))  # a 2 kHz square burst
        start = self.started = time.time() + 0.1
        marks, at = set(), 0.0
        while at < seconds - 3:
            at += GAPS_S[len(marks) % len(GAPS_S)]
            marks.add(round(at * RATE / FRAME))
        assert self._enc.stdin is not None
        for n in range(int(seconds * RATE / FRAME)):
            due = start + n * FRAME / RATE
            time.sleep(max(0.0, due - time.time()))
            frame = bytearray(FRAME * 2)
            if n in marks:
                frame[: len(click)] = click
                self.clicks.append(due)  # captured when written, in real time
            self._enc.stdin.write(bytes(frame))
            self._enc.stdin.flush()
        self._enc.stdin.close()
        self._enc.wait()
        reader.join()
        self._stopped = True
        poster.join()

    def _read(self) -> None:
        assert self._enc.stdout is not None
        while chunk := self._enc.stdout.read1(4096):  # type: ignore[attr-defined]
            with self._lock:
                self._buf.extend(chunk)

    _stopped = False

    def _post_loop(self) -> None:
        seq = 0
        while True:
            time.sleep(0.25)
            with self._lock:
                body, self._buf = bytes(self._buf), bytearray()
            if body:
                r = self._api.post(f"/api/v1/live/sessions/{self._session}/audio",
                                   params={"seq": seq}, content=body)
                r.raise_for_status()
                seq += 1
                self.posted += len(body)
            elif self._stopped:
                return


def heard_clicks(blocks: list[tuple[float, bytes]]) -> list[float]:
    """Instants of the clicks in what a sink played (first sample over the threshold)."""
    found: list[float] = []
    for start, pcm in blocks:
        samples = memoryview(pcm).cast("h")
        i = 0
        while i < len(samples):
            if abs(samples[i]) > THRESHOLD:
                at = start + i / RATE
                if not found or at - found[-1] > min(GAPS_S) / 2:
                    found.append(at)
                i += int(min(GAPS_S) / 2 * RATE)
            else:
                i += 1
    return found


def match(injected: list[float], heard: list[float], limit: float = 6.0) -> dict[int, float]:
    """Click index -> instant it was heard. The lag common to most pairs within ``limit`` is
    taken first (the clicks' gaps are irregular, so a neighbour's click does not fit it);
    each click is then the heard one within 0.3 s of its instant plus that lag."""
    lags = [round(h - t, 2) for t in injected for h in heard if 0 <= h - t <= limit]
    if not lags:
        return {}
    lag = statistics.mode(lags)
    out: dict[int, float] = {}
    for k, t in enumerate(injected):
        near = [h for h in heard if abs(h - t - lag) <= 0.3]
        if near:
            out[k] = near[0]
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if values else 0.0


def wake_spread(threads: int, rounds: int = 10) -> list[float]:
    """How far apart this machine wakes ``threads`` threads asked to wake at one instant."""
    spreads = []
    for _ in range(rounds):
        at = time.time() + 0.2
        woke: list[float] = []
        lock = threading.Lock()

        def sleeper(target: float = at, woke: list[float] = woke,
                    lock: threading.Lock = lock) -> None:
            threading.Event().wait(target - time.time())
            with lock:
                woke.append(time.time())
        ts = [threading.Thread(target=sleeper) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        spreads.append(max(woke) - min(woke))
    return spreads


def segments_floor(center_dir: Path, stream: str, source: ClickSource) -> list[float]:
    """Click to the signed descriptor of the segment holding it: the engine's own floor
    (ingest, ffmpeg's segmenting and the signature), before any device."""
    runs = sorted((center_dir / "live" / stream).iterdir(), key=lambda p: int(p.name))
    out = []
    for click in source.clicks:
        seq = int((click - source.started) / 0.5)
        desc = runs[0] / f"seg{seq:06d}.json"
        if desc.exists():
            out.append(desc.stat().st_mtime - click)
    return out


def say(name: str, value: float, unit: str = "", limit: float | None = None,
        limit_name: str = "") -> None:
    line = f"{name}: {value:.3f}{unit}"
    if limit is not None and limit > 0:
        line += f"   (limit {limit_name} {limit:.3f}{unit}; ratio {value / limit:.2f})"
    print(line, flush=True)


def link_bytes(host_if: str) -> int:
    base = Path("/sys/class/net") / host_if / "statistics"
    return sum(int((base / f).read_text()) for f in ("rx_bytes", "tx_bytes"))


def shape(ns_name: str, host_if: str, agent_if: str, rate: str) -> None:
    """``tc tbf`` at ``rate`` on both ends of the device's link (each end shapes what it sends)."""
    args = ["root", "tbf", "rate", rate, "burst", "4kb", "latency", "400ms"]
    subprocess.run(["tc", "qdisc", "replace", "dev", host_if, *args], check=True)
    subprocess.run(["ip", "netns", "exec", ns_name, "tc", "qdisc", "replace", "dev", agent_if,
                    *args], check=True)


def session(api: httpx.Client, unit_id: int, title: str) -> str:
    r = api.post("/api/v1/live/sessions", json={"title": title, "target_unit_id": unit_id,
                                                "priority": "priority"})
    r.raise_for_status()
    sid = str(r.json()["id"])
    api.post(f"/api/v1/live/sessions/{sid}/start").raise_for_status()
    return sid


def relay_on_thin_link(api: httpx.Client, ns: Namespace, work: Path, unit_id: int,
                       logs: Path) -> None:
    """A one-minute relay window to the thin speaker: its link's bytes while it plays."""
    with UpstreamStation(freq=440) as station:
        r = api.post("/api/v1/bulletins", json={
            "title": "Tiếp sóng (bench)", "priority": "normal", "kind": "relay",
            "source_url": station.url, "window_minutes": 1})
        r.raise_for_status()
        start = time.time() + 6
        api.post("/api/v1/schedules", json={
            "bulletin_id": r.json()["id"], "targets": {"unit_ids": [unit_id]},
            "start_at": datetime.fromtimestamp(start, UTC).isoformat()}).raise_for_status()
        time.sleep(max(0.0, start + 15 - time.time()))
        before, t1 = link_bytes(ns.host_if), time.time()
        time.sleep(35)
        after, t2 = link_bytes(ns.host_if), time.time()
        time.sleep(max(0.0, start + 62 - time.time()))
    blocks = [b for b in read_live_log(logs / "loa-thin.plays.live") if start <= b[0]]
    stream = r.json().get("stream_id") or ""
    per_min = 60 / (t2 - t1)
    media = [p for p in (work / "center" / "live").glob("*/*/seg*.m4s")
             if p.stat().st_mtime >= start and (not stream or stream in str(p))]
    media_bytes = sum(p.stat().st_size for p in media if t1 <= p.stat().st_mtime < t2)
    say("relay_link_bytes_per_min", (after - before) * per_min / 1000, " kB",
        media_bytes * per_min / 1000, "Opus media")
    say("relay_blocks_in_window (1 = no gap)", float(len(blocks)))


def main() -> int:  # noqa: PLR0915 - one scenario told in order
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds of speech per session")
    ap.add_argument("--speakers", type=int, default=100, help="speakers of the large session")
    ap.add_argument("--processes", type=int, default=4, help="agent processes for them")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tt-live-", dir="/dev/shm"))
    print(f"bench: work dir {work}", flush=True)
    children: list[JsonLinesChild] = []
    with isolated_namespace("ttl") as ns, MosquittoBroker(work / "broker",
                                                          extra_hosts=[ns.host_ip]) as broker:
        center = CenterProcess(work / "center", port=free_port(), host=ns.host_ip,
                               mqtt_port=broker.center_port, mqtt_password=broker.center_password)
        center.start()
        try:
            api = center.client()

            def unit(code: str, level: str, parent: int | None) -> int:
                r = api.post("/api/v1/units", json={"code": code, "name": f"Đơn vị {code}",
                                                     "level": level, "parent_id": parent})
                r.raise_for_status()
                return int(r.json()["id"])
            district = unit("h1", "district", unit("p1", "province", None))
            communes = {"a": unit("xa", "commune", district), "b": unit("xb", "commune", district),
                        "t": unit("xt", "commune", district)}
            configs: dict[str, Path] = {}
            accounts: list[tuple[str, str]] = []
            (work / "configs").mkdir()
            n = args.speakers
            for i in range(n + 1):
                device = f"loa-{i:03d}" if i < n else "loa-thin"
                where = "a" if i < 10 else "b" if i < n else "t"
                r = api.post("/api/v1/devices", json={"id": device, "name": device,
                                                      "unit_id": communes[where]})
                r.raise_for_status()
                password = r.json()["mqtt_password"]
                accounts.append((device, password))
                configs[device] = work / "configs" / f"{device}.json"
                configs[device].write_text(json.dumps({
                    "device_id": device, "data_dir": str(work / "agents" / device),
                    "center_public_keys": [center.public_key()],
                    "mqtt": {"host": ns.host_ip, "port": broker.port, "password": password,
                             "keepalive_s": 30}}))
            broker.add_users(accounts)
            logs = work / "sinks"
            speakers = [configs[f"loa-{i:03d}"] for i in range(n)]
            for p in range(args.processes):
                children.append(JsonLinesChild(
                    [sys.executable, "-m", "firmware_sim", "fleet", "--report", "--play-log-dir",
                     str(logs), "--config", *map(str, speakers[p::args.processes])],
                    work / f"fleet-{p}.log"))
            shape(ns.name, ns.host_if, ns.agent_if, "64kbit")
            children.append(JsonLinesChild(ns.command(
                [sys.executable, "-m", "firmware_sim", "fleet", "--report", "--play-log-dir",
                 str(logs), "--config", str(configs["loa-thin"])]), work / "thin.log"))
            for child in children:
                child.wait_until(lambda c=child: any(e.get("ev") == "ready"  # type: ignore[misc]
                                                     for e in c.events), 120, "agents ready")
            print(f"bench: {n + 1} agents ready", flush=True)

            def speak(unit_id: int, title: str, seconds: float,
                      during: object = None) -> tuple[str, ClickSource]:
                sid = session(api, unit_id, title)
                source = ClickSource(api, sid)
                if callable(during):
                    threading.Thread(target=during, daemon=True).start()
                source.run(seconds)
                time.sleep(3.0)  # the last clicks reach the speakers (delay + segment)
                api.post(f"/api/v1/live/sessions/{sid}/stop").raise_for_status()
                return sid, source

            for name, unit_id, devices in (("10", communes["a"], speakers[:10]),
                                           (str(n), district, speakers + [configs["loa-thin"]])):
                sid, source = speak(unit_id, f"bench {name}", args.seconds)
                clicks = source.clicks
                heard = {p.stem: match(clicks, heard_clicks(read_live_log(
                    logs / f"{p.stem}.plays.live"))) for p in devices}
                latencies = [h - clicks[k] for m in heard.values() for k, h in m.items()]
                skews = [max(vs) - min(vs) for k in range(len(clicks))
                         if len(vs := [m[k] for m in heard.values() if k in m]) == len(devices)]
                floor = segments_floor(work / "center", sid, source)
                spread = wake_spread(len(devices))
                print(f"speakers {name}: {len(latencies)} clicks heard of "
                      f"{len(clicks) * len(devices)}", flush=True)
                say(f"latency_p50[{name}]", pct(latencies, 0.5), " s", pct(floor, 0.5),
                    "engine floor")
                say(f"latency_p95[{name}]", pct(latencies, 0.95), " s", pct(floor, 0.95),
                    "engine floor")
                say(f"skew_p50[{name}]", pct(skews, 0.5) * 1000, " ms",
                    pct(spread, 0.5) * 1000, "thread wake spread")
                say(f"skew_p99[{name}]", pct(skews, 0.99) * 1000, " ms",
                    pct(spread, 0.99) * 1000, "thread wake spread")
                say(f"skew_max[{name}]", max(skews, default=0) * 1000, " ms")

            cut_at, cut_s = max(args.seconds, 45.0) / 2, 10.0
            marks: dict[str, float] = {}

            def cut() -> None:
                time.sleep(5.0)
                marks["steady_from"], marks["bytes_from"] = time.time(), link_bytes(ns.host_if)
                time.sleep(cut_at - 5.0)
                marks["steady_to"], marks["bytes_to"] = time.time(), link_bytes(ns.host_if)
                ns.cut()
                time.sleep(cut_s)
                ns.restore()
                marks["restored"] = time.time()
            sid, source = speak(communes["t"], "bench thin", max(args.seconds, 45.0), cut)
            clicks = source.clicks
            blocks = read_live_log(logs / "loa-thin.plays.live")
            steady = [b for b in blocks if marks["steady_from"] <= b[0] < marks["steady_to"]]
            after = [b for b in blocks if b[0] >= marks["restored"]]
            minute = 60 / (marks["steady_to"] - marks["steady_from"])
            link = (marks["bytes_to"] - marks["bytes_from"]) * minute
            media = sum(p.stat().st_size for p in (work / "center" / "live" / sid).glob(
                "*/seg*.m4s")) / max(args.seconds, 45.0) * 60
            thin = match(clicks, heard_clicks(blocks))
            print(f"thin link: {len(thin)} of {len(clicks)} clicks heard", flush=True)
            say("thin_blocks_while_whole (1 = no gap)", float(1 + len(steady)))
            say("thin_recovery_after_10s_cut", (after[0][0] - marks["restored"]) if after
                else float("nan"), " s")
            say("thin_latency_p50", pct([h - clicks[k] for k, h in thin.items()], 0.5), " s")
            say("link_bytes_per_min", link / 1000, " kB", media / 1000, "Opus media")
            say("link_use_of_64kbit", link * 8 / 60 / 64_000 * 100, " %")
            relay_on_thin_link(api, ns, work, communes["t"], logs)
        finally:
            for child in children:
                child.proc.terminate()
            for child in children:
                child.proc.wait(timeout=30)
            center.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
