"""`./run.sh demo`: broker, control center and four simulated loudspeakers, seeded and running.

Starts a Mosquitto with the project's dev config, an influxd for health telemetry, the
control center (SQLite under
data/demo), seeds a small administrative tree (central > province > two communes), four
speakers, a demo bulletin scheduled a few seconds ahead plus a daily 06:00/17:00 slot, runs the
fleet and prints the URLs. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import signal
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from edge_agent.config import AgentConfig, HealthConfig, MqttConfig
from firmware_sim.broker import MosquittoBroker
from firmware_sim.center_process import CenterProcess
from firmware_sim.fleet import Fleet
from firmware_sim.hardware import PlayRecord
from firmware_sim.influx import InfluxServer

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
COMMUNES = {"Xã Gio Linh": "giolinh", "Xã Cam Lộ": "camlo"}
# approximate positions (lat, lon) of each commune's two loudspeakers, for the console's map
POSITIONS = {"giolinh": ((16.905, 107.075), (16.918, 107.094)),
             "camlo": ((16.795, 107.005), (16.781, 106.988))}


def seed_workflow(base_url: str, password: str, province_id: object) -> None:
    """Work in progress for the console: a province bulletin waiting in both communes' inboxes
    and a commune draft submitted for approval. Done as the demo users, through the API."""

    def act_as(username: str) -> httpx.Client:
        r = httpx.post(f"{base_url}/api/v1/auth/login",
                       json={"username": username, "password": password}, timeout=30)
        r.raise_for_status()
        return httpx.Client(base_url=base_url, timeout=30,
                            headers={"Authorization": f"Bearer {r.json()['token']}"})

    def ok(r: httpx.Response) -> dict[str, object]:
        if r.status_code >= 400:
            raise RuntimeError(f"{r.request.method} {r.request.url.path} -> {r.status_code}: "
                               f"{r.text}")
        return dict(r.json())

    with act_as("bientap.tinh") as prov_op, act_as("duyet.tinh") as prov_appr, \
            act_as("bientap.giolinh") as commune_op:
        notice = ok(prov_op.post("/api/v1/bulletins", json={
            "title": "Thông báo lịch cắt điện tuần tới", "category": "điện", "kind": "text",
            "text": "Điện lực tỉnh thông báo lịch cắt điện để bảo trì lưới điện tuần tới."}))
        ok(prov_op.post(f"/api/v1/bulletins/{notice['id']}/submit"))
        ok(prov_appr.post(f"/api/v1/bulletins/{notice['id']}/approve"))
        ok(prov_op.post(f"/api/v1/bulletins/{notice['id']}/publish",
                        json={"unit_ids": [province_id]}))
        draft = ok(commune_op.post("/api/v1/bulletins", json={
            "title": "Họp dân thôn 3 tối thứ Bảy", "category": "dân vận", "kind": "text",
            "text": "Mời bà con thôn 3 dự họp lúc 19 giờ thứ Bảy tại nhà văn hóa thôn."}))
        ok(commune_op.post(f"/api/v1/bulletins/{draft['id']}/submit"))


def demo_users(province_id: object, communes: dict[str, object]) -> list[dict[str, object]]:
    """One console account per role: the province's staff and each commune's operator/approver."""
    users: list[dict[str, object]] = [
        {"username": "quantri", "role": "admin", "unit_id": province_id,
         "full_name": "Quản trị tỉnh"},
        {"username": "bientap.tinh", "role": "operator", "unit_id": province_id,
         "full_name": "Biên tập viên tỉnh"},
        {"username": "duyet.tinh", "role": "approver", "unit_id": province_id,
         "full_name": "Lãnh đạo duyệt tin tỉnh"},
        {"username": "kythuat", "role": "technician", "unit_id": province_id,
         "full_name": "Kỹ thuật viên"},
    ]
    for slug, unit_id in communes.items():
        users += [{"username": f"bientap.{slug}", "role": "operator", "unit_id": unit_id,
                   "full_name": f"Biên tập viên xã {slug}"},
                  {"username": f"duyet.{slug}", "role": "approver", "unit_id": unit_id,
                   "full_name": f"Lãnh đạo xã {slug}"}]
    return users


def make_demo_audio(path: Path) -> Path:
    """A short chime then a tone (ffmpeg), standing in for a recorded bulletin."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "sine=frequency=660:duration=1:sample_rate=22050", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=5:sample_rate=22050",
         "-filter_complex", "[0][1]concat=n=2:v=0:a=1", "-ac", "1", str(path)],
        check=True,
    )
    return path


def watch_plays(fleet: Fleet, stop: threading.Event) -> None:
    printing = threading.Lock()

    def watch(device_id: str) -> None:
        sink = fleet.devices[device_id].sink
        seen = 0
        while not stop.is_set():
            with sink.changed:
                sink.changed.wait(1.0)
                new: list[PlayRecord] = sink.records[seen:]
            for rec in new:
                at = datetime.fromtimestamp(rec.started_at, LOCAL).strftime("%H:%M:%S.%f")[:-3]
                err = (rec.started_at - rec.scheduled_at) * 1000
                state = "phát xong / completed" if rec.completed else "bị ngắt / interrupted"
                with printing:
                    print(f"  ▶ {device_id}: {rec.item_id} lúc {at} (lệch {err:+.1f} ms) — {state}",
                          flush=True)
            seen += len(new)

    for device_id in fleet.devices:
        threading.Thread(target=watch, args=(device_id,), daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="./run.sh demo")
    ap.add_argument("--data", type=Path, default=Path("data/demo"))
    ap.add_argument("--port", type=int, default=8000, help="control center HTTP port")
    ap.add_argument("--broker-port", type=int, default=18830)
    ap.add_argument("--lead", type=float, default=20.0, help="seconds until the demo bulletin")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    if args.data.exists():
        shutil.rmtree(args.data)  # the demo starts from a clean slate every time
    args.data.mkdir(parents=True)

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    broker = MosquittoBroker(args.data / "broker", port=args.broker_port)
    broker.start()
    influx = InfluxServer(args.data / "influxdb")
    center: CenterProcess | None = None
    fleet: Fleet | None = None
    try:
        influx.start()
        center = CenterProcess(args.data / "center", port=args.port, mqtt_port=broker.center_port,
                               mqtt_password=broker.center_password,
                               extra_env={"TT_INFLUX_URL": influx.url})
        center.start()
        api = center.client()

        def post(path: str, body: dict[str, object]) -> dict[str, object]:
            r = api.post(path, json=body)
            if r.status_code >= 400:
                raise RuntimeError(f"POST {path} -> {r.status_code}: {r.text}")
            return dict(r.json())

        central = post("/api/v1/units", {"code": "tw", "name": "Trung ương", "level": "central"})
        province = post("/api/v1/units", {"code": "qt", "name": "Tỉnh Quảng Trị",
                                          "level": "province", "parent_id": central["id"]})
        configs: list[AgentConfig] = []
        pubkey = center.public_key()
        commune_ids: dict[str, object] = {}
        for name, slug in COMMUNES.items():
            unit = post("/api/v1/units", {"code": slug, "name": name, "level": "commune",
                                          "parent_id": province["id"]})
            commune_ids[slug] = unit["id"]
            for i in (1, 2):
                device_id = f"loa-{slug}-{i}"
                lat, lon = POSITIONS[slug][i - 1]
                dev = post("/api/v1/devices", {"id": device_id, "name": f"Loa {name} {i}",
                                               "kind": "speaker", "unit_id": unit["id"],
                                               "lat": lat, "lon": lon})
                password = str(dev["mqtt_password"])
                broker.add_user(device_id, password)
                configs.append(AgentConfig(
                    device_id=device_id, data_dir=args.data / "agents" / device_id,
                    center_public_keys=(pubkey,),
                    mqtt=MqttConfig(host=broker.host, port=broker.port, password=password),
                    health=HealthConfig(interval_s=15,
                                        time_url=f"{center.base_url}/api/v1/time"),
                ))
        demo_password = secrets.token_urlsafe(9)
        users = demo_users(province["id"], commune_ids)
        for user in users:
            post("/api/v1/users", {**user, "password": demo_password})
        seed_workflow(center.base_url, demo_password, province["id"])
        wav = make_demo_audio(args.data / "ban-tin-demo.wav")
        with wav.open("rb") as fh:
            r = api.post("/api/v1/media", files={"file": (wav.name, fh, "audio/wav")})
        r.raise_for_status()
        bulletin = post("/api/v1/bulletins", {
            "title": "Thông báo lịch tiêm chủng mở rộng", "category": "y tế",
            "priority": "normal", "media_sha256": r.json()["sha256"]})
        start_at = datetime.now(UTC) + timedelta(seconds=args.lead)
        post("/api/v1/schedules", {"bulletin_id": bulletin["id"], "start_at": start_at.isoformat(),
                                   "targets": {"unit_ids": [province["id"]]}})
        now = datetime.now(UTC)
        post("/api/v1/schedules", {
            "bulletin_id": bulletin["id"], "rrule": "FREQ=DAILY;BYHOUR=6,17;BYMINUTE=0;BYSECOND=0",
            "valid_from": now.isoformat(), "valid_until": (now + timedelta(days=30)).isoformat(),
            "timezone": "Asia/Ho_Chi_Minh", "targets": {"unit_ids": [province["id"]]}})

        fleet = Fleet(configs, play_log_dir=args.data / "plays")
        fleet.start()
        fleet.wait_connected(15)
        watch_plays(fleet, stop)
        local = start_at.astimezone(LOCAL).strftime("%H:%M:%S")
        print(f"""
Hệ thống thông tin cơ sở — bản demo / demo running
  Bảng điều khiển / console:         {center.base_url}/console
    tài khoản / accounts: {", ".join(str(u["username"]) for u in users)}
    mật khẩu (mọi tài khoản) / password (all accounts): {demo_password}
  Giám sát / monitoring (liên kết dùng một lần, 10 phút / one-time link, 10 min;
    liên kết mới / a new one: TT_DATA_DIR={center.data_dir} python -m control_center \
    sign-in-link):                  {center.sign_in_link()}
  Trung tâm điều khiển (API docs):  {center.base_url}/docs
  Nhật ký phát / play log:          {center.base_url}/api/v1/plays
  Thiết bị / devices:               {center.base_url}/api/v1/devices
  API token (Authorization: Bearer): {center.api_token}
  MQTT broker:                      mqtt://{broker.host}:{broker.port}
  InfluxDB (health telemetry):      {influx.url}
  4 loa mô phỏng / simulated speakers: {", ".join(c.device_id for c in configs)}
  Bản tin demo phát lúc {local} (giờ Việt Nam), rồi hằng ngày 06:00 và 17:00.
Nhấn Ctrl-C để dừng / press Ctrl-C to stop.
""", flush=True)
        stop.wait()
        print("Đang dừng / stopping...", flush=True)
        return 0
    finally:
        stop.set()
        if fleet is not None:
            fleet.stop()
        if center is not None:
            center.stop()
        influx.stop()
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
