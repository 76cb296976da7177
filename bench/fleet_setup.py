"""bench/fleet.py's stage: broker, database, center and province, plus its two watchers.

- :class:`Province`: a Mosquitto broker whose dynamic-security file holds every device's own
  account before it starts, PostgreSQL (or SQLite), the center (``serve``) on it, and the
  province registered through the API: units, then the devices by CSV import.
- :class:`ApiProbe`: a thread timing ``GET /api/v1/devices`` and ``POST /api/v1/schedules``
  back to back while the phases run (the schedules target one device nobody simulates).
- :class:`Profiler`: py-spy on the center's processes during a phase, summarised.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from control_center.models import DeviceEventRecord, ManifestState, PlayLog  # noqa: E402
from firmware_sim.broker import MosquittoBroker, free_port  # noqa: E402
from firmware_sim.center_process import CenterProcess  # noqa: E402
from firmware_sim.dynsec_file import DynsecFile  # noqa: E402

DEVICES_PER_COMMUNE = 20
COMMUNES_PER_DISTRICT = 25
IMPORT_CHUNK = 5000
PROBE_DEVICE = "probe-0000"


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        with contextlib.suppress(OSError, StopIteration):
            status = Path(f"/proc/{current}/status").read_text().splitlines()
            total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return total


class Center(CenterProcess):
    """``serve``, with ``--workers N`` when the center has that option."""

    def __init__(self, *args: Any, workers: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workers = workers

    def _launch(self) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "control_center", "serve", "--host", self.host,
                "--port", str(self.port)]
        if self.workers > 1:
            argv += ["--workers", str(self.workers)]
        return self._spawn(argv, env=self.env, cwd=REPO, detached=False)


def serve_has_workers() -> bool:
    out = subprocess.run([sys.executable, "-m", "control_center", "serve", "--help"],
                         cwd=REPO, capture_output=True, text=True, check=False)
    return "--workers" in out.stdout


class Province:
    """Everything one run needs, started by :meth:`up` and stopped by :meth:`down`."""

    def __init__(self, work: Path, devices: int, *, database: str, center_workers: int) -> None:
        self.work = work
        self.n = devices
        self.devices = [(f"loa-{i:05d}", secrets.token_urlsafe(12)) for i in range(devices)]
        self.database = database
        self.broker = MosquittoBroker(work / "broker")
        self._pg: Any = None
        self._center_workers = center_workers
        self.center: Center | None = None
        self.engine: Engine | None = None
        self.api: httpx.Client | None = None
        self.province_id = 0
        self.bulletin_id = 0

    # -- start and stop ----------------------------------------------------------------------
    def up(self) -> dict[str, float]:
        timings: dict[str, float] = {}
        self.broker.start()
        url = self._database_url()
        self.engine = create_engine(url)
        self.center = Center(self.work / "center", port=free_port(),
                             mqtt_port=self.broker.center_port,
                             mqtt_password=self.broker.center_password,
                             workers=self._center_workers,
                             extra_env={"TT_DATABASE_URL": url})
        self.center.start(timeout=120)
        self.api = httpx.Client(base_url=self.center.base_url, timeout=600, headers={
            "Authorization": f"Bearer {self.center.api_token}"})
        started = time.perf_counter()
        self._units()
        timings["units_s"] = time.perf_counter() - started
        started = time.perf_counter()
        self._import()
        timings["import_s"] = time.perf_counter() - started
        # Every device's own account, written while the broker is stopped (adding 10,000 live
        # takes minutes); after the import, so the center's account reconciler knows them all.
        self.broker.stop()
        accounts = DynsecFile(self.broker.dynsec_file)
        for device, password in self.devices:
            accounts.put_client(device, password, client_id=device)
        accounts.save()
        self.broker.start()
        self._bulletin()
        probe_unit = self._post("/api/v1/units", json={"code": "probe", "name": "Probe",
                                                        "level": "province"})["id"]
        self._post("/api/v1/devices", json={"id": PROBE_DEVICE, "name": "Probe",
                                            "unit_id": probe_unit})
        return timings

    def _database_url(self) -> str:
        if self.database == "sqlite":
            return f"sqlite:///{self.work / 'center' / 'center.db'}"
        try:
            from firmware_sim.postgres import PostgresServer
        except ImportError as exc:
            raise SystemExit(f"--database postgresql needs firmware_sim/postgres.py ({exc}); "
                             "use --database sqlite") from None
        # durable: fsync and synchronous commit on, as production runs it
        self._pg = PostgresServer(self.work / "postgres", durable=True)
        self._pg.start()
        url: str = self._pg.create_database("center")
        return url

    def down(self) -> None:
        if self.api is not None:
            self.api.close()
        if self.center is not None:
            self.center.stop()
        if self.engine is not None:
            self.engine.dispose()
        self.broker.stop()
        if self._pg is not None:
            self._pg.stop()

    # -- the province ------------------------------------------------------------------------
    def _post(self, path: str, **kwargs: Any) -> Any:
        assert self.api is not None
        r = self.api.post(path, **kwargs)
        if r.status_code >= 300:
            raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:500]}")
        return r.json()

    def commune_code(self, index: int) -> str:
        return f"x{index // DEVICES_PER_COMMUNE:04d}"

    def _units(self) -> None:
        self.province_id = self._post("/api/v1/units", json={
            "code": "p1", "name": "Tỉnh Bench", "level": "province"})["id"]
        communes = -(-self.n // DEVICES_PER_COMMUNE)
        district = 0
        for c in range(communes):
            if c % COMMUNES_PER_DISTRICT == 0:
                district = self._post("/api/v1/units", json={
                    "code": f"h{c // COMMUNES_PER_DISTRICT:03d}", "name": f"Huyện {c}",
                    "level": "district", "parent_id": self.province_id})["id"]
            self._post("/api/v1/units", json={"code": f"x{c:04d}", "name": f"Xã {c}",
                                              "level": "commune", "parent_id": district})

    def _import(self) -> None:
        for start in range(0, self.n, IMPORT_CHUNK):
            lines = ["id,name,kind,unit_code,lat,lon"] + [
                f"{d},Loa {i},speaker,{self.commune_code(i)},,"
                for i, (d, _) in enumerate(self.devices[start:start + IMPORT_CHUNK], start)]
            self._post("/api/v1/devices/import", content="\n".join(lines).encode(),
                       headers={"Content-Type": "text/csv"})

    def _bulletin(self) -> None:
        wav = self.work / "tone.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                        "sine=frequency=440:duration=3:sample_rate=16000", "-ac", "1", str(wav)],
                       check=True)
        with wav.open("rb") as fh:
            media = self._post("/api/v1/media", files={"file": ("tone.wav", fh, "audio/wav")})
        self.bulletin_id = self._post("/api/v1/bulletins", json={
            "title": "Bản tin thử tải", "media_sha256": media["sha256"]})["id"]

    def schedule(self, start_at: datetime) -> dict[str, Any]:
        result: dict[str, Any] = self._post("/api/v1/schedules", json={
            "bulletin_id": self.bulletin_id, "start_at": start_at.isoformat(),
            "targets": {"unit_ids": [self.province_id]}})
        return result

    # -- reading the center's database (after the fact, never while timing) ------------------
    def manifests(self) -> dict[str, tuple[int, str, datetime | None]]:
        """device -> (version, signed body, published_at) of every simulated device."""
        assert self.engine is not None
        with self.engine.connect() as db:
            rows = db.execute(select(ManifestState.device_id, ManifestState.version,
                                     ManifestState.body, ManifestState.published_at)
                              .where(ManifestState.device_id != PROBE_DEVICE)).all()
        return {d: (v, b, p) for d, v, b, p in rows}

    def count_events(self, types: tuple[str, ...]) -> int:
        assert self.engine is not None
        with self.engine.connect() as db:
            return int(db.scalar(select(func.count()).select_from(DeviceEventRecord)
                                 .where(DeviceEventRecord.type.in_(types))) or 0)

    def play_rows(self, schedule_id: int) -> Counter[str]:
        assert self.engine is not None
        with self.engine.connect() as db:
            rows = db.execute(select(PlayLog.status, func.count())
                              .where(PlayLog.schedule_id == schedule_id)
                              .group_by(PlayLog.status)).all()
        return Counter({str(s): int(c) for s, c in rows})


PAGE = 500  # devices per GET /api/v1/devices page the probe asks for


class ApiProbe(threading.Thread):
    """Times the two routes back to back, one pair every ``period_s`` (an operator or two at
    work, not a load test), labelled by the current phase. The list is asked a page at a time,
    as a console would (the whole list of 10,000 devices costs ~0.5 s of the center's CPU)."""

    def __init__(self, province: Province, period_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        assert province.center is not None
        self._api = httpx.Client(base_url=province.center.base_url, timeout=120, headers={
            "Authorization": f"Bearer {province.center.api_token}"})
        self._bulletin = province.bulletin_id
        self._period = period_s
        self._halt = threading.Event()
        self.phase = "idle"
        self.samples: dict[tuple[str, str], list[float]] = {}
        self.failures: Counter[str] = Counter()

    def run(self) -> None:
        index = 0
        while not self._halt.is_set():
            cycle = started = time.perf_counter()
            r = self._api.get("/api/v1/devices", params={"limit": PAGE})
            self._note(f"GET /api/v1/devices?limit={PAGE}", started, r)
            index += 1
            start_at = datetime.now(UTC) + timedelta(days=3, minutes=10 * index)
            started = time.perf_counter()
            r = self._api.post("/api/v1/schedules", json={
                "bulletin_id": self._bulletin, "start_at": start_at.isoformat(),
                "targets": {"device_ids": [PROBE_DEVICE]}})
            self._note("POST /api/v1/schedules", started, r)
            self._halt.wait(max(0.0, self._period - (time.perf_counter() - cycle)))

    def _note(self, route: str, started: float, r: httpx.Response) -> None:
        elapsed = time.perf_counter() - started
        if r.status_code >= 300:
            self.failures[f"{route} {r.status_code}"] += 1
        self.samples.setdefault((self.phase, route), []).append(elapsed)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=300)
        self._api.close()


class Profiler:
    """``py-spy record`` (raw collapsed stacks) on a process and its children, one phase."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        self._proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid),
             "--subprocesses", "--format", "raw", "--rate", "100", "--nonblocking",
             "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # py-spy attaches before the phase starts

    def stop(self) -> None:
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()


def summarise_profile(path: Path, top: int = 25) -> Iterator[str]:
    """Lines: the project's functions by inclusive share of samples, then the hottest leaves."""
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    if not path.exists():
        yield f"(no profile at {path})"
        return
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame(f) for f in stack.split(";")]
        for frame in set(frames):
            if "control_center/" in frame or "protocol/" in frame:
                inclusive[frame] += count
        leaves[frames[-1]] += count
    if not total:
        yield "(no samples)"
        return
    yield f"{total} samples; the center's functions by inclusive share:"
    for frame, count in inclusive.most_common(top):
        yield f"  {count / total:6.1%}  {frame}"
    yield "hottest leaves (self time):"
    for frame, count in leaves.most_common(12):
        yield f"  {count / total:6.1%}  {frame}"


def _frame(text: str) -> str:
    """``func (path/file.py:line)`` -> ``func (file path from the repo or package)``."""
    name, _, where = text.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in (str(REPO) + "/", "site-packages/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"
