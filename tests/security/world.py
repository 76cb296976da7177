"""The world the security tests act in: a province with communes A and B, one user of every
role in each (each also a training officer), and one object of every kind a route names in
each commune. Commune B's names, titles and texts carry ``MARK``, so an answer that shows
anything of B to a user of A is a leak anyone can see.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from control_center.models import Role
from control_center.services.emergency_checks import CONFIRM_WORD
from firmware_sim.broker import MosquittoBroker
from tests.center.helpers import ok
from tests.support.center import CenterHandle
from tests.support.tree import add_device, add_unit
from tests.training.helpers import import_sample

MARK = "NGOAI-B"
PASSWORD = "mat-khau-quet-quyen-2026"
PARAM = re.compile(r"{(\w+)}")
RELEASE = "0.9.0"
WHEEL = f"thongtin_coso-{RELEASE}-py3-none-any.whl"


@dataclass
class Objects:
    """Path parameter values: (inside commune A, outside in commune B)."""

    values: dict[str, tuple[str, str]] = field(default_factory=dict)
    bodies: dict[str, Any] = field(default_factory=dict)  # valid bodies, so scope is reached

    def fill(self, path: str, where: str) -> str | None:
        """The path with its parameters filled for ``where``; None if a parameter is unknown."""
        def value(match: re.Match[str]) -> str:
            inside, outside = self.values[match.group(1)]
            return inside if where == "inside" else outside
        try:
            return PARAM.sub(value, path)
        except KeyError:
            return None

    def scoped(self, path: str) -> bool:
        """Whether the path names an object whose inside and outside values differ."""
        return any(self.values[name][0] != self.values[name][1]
                   for name in PARAM.findall(path) if name in self.values)


def bearer(base_url: str, username: str) -> httpx.Client:
    r = httpx.post(f"{base_url}/api/v1/auth/login",
                   json={"username": username, "password": PASSWORD}, timeout=60)
    token = ok(r, 200)["token"]
    return httpx.Client(base_url=base_url, timeout=60,
                        headers={"Authorization": f"Bearer {token}"})


def _pair(make: Callable[[str], object]) -> tuple[str, str]:
    """(inside, outside) ids made by ``make("a")`` and ``make("b")``."""
    return str(make("a")), str(make("b"))


def _seed_objects(center: CenterHandle, a: dict[str, Any], b: dict[str, Any],
                  op_a: httpx.Client, op_b: httpx.Client) -> Objects:
    """One object of every kind a route names, in commune A and (marked) in commune B."""
    api, base = center.api, center.base_url
    units, ops = {"a": a, "b": b}, {"a": op_a, "b": op_b}
    mark = {"a": "", "b": f" {MARK}"}
    approvers = {key: bearer(base, f"approver_{key}") for key in units}

    def bulletin(key: str) -> int:
        made = ok(ops[key].post("/api/v1/bulletins", json={
            "title": f"Tin {key}{mark[key]}", "kind": "text", "text": f"Nội dung{mark[key]}"}))
        ok(ops[key].post(f"/api/v1/bulletins/{made['id']}/submit", json={}), 200)
        ok(approvers[key].post(f"/api/v1/bulletins/{made['id']}/approve", json={}), 200)
        return int(made["id"])

    bulletins = _pair(bulletin)

    def schedule(key: str) -> int:
        return int(ok(ops[key].post("/api/v1/schedules", json={
            "bulletin_id": int(bulletins[key == "b"]),
            "targets": {"device_ids": [f"quet-loa-{key}"]},
            "start_at": "2099-01-01T01:00:00Z"}))["id"])

    down = ok(api.post("/api/v1/bulletins", json={
        "title": "Tin tỉnh", "kind": "text", "text": "Tin của tỉnh gửi xuống"}))
    ok(api.post(f"/api/v1/bulletins/{down['id']}/publish",
                json={"unit_ids": [a["id"], b["id"]]}))
    sent_down = ok(api.get("/api/v1/distributions"))["items"]

    def distribution(key: str) -> int:
        return next(int(d["id"]) for d in sent_down if d["unit_id"] == units[key]["id"])

    def emergency(key: str) -> int:
        return int(ok(api.post("/api/v1/emergency", json={
            "unit_ids": [units[key]["id"]], "bulletin_id": int(bulletins[key == "b"]),
            "confirm": CONFIRM_WORD}))["id"])

    def live_session(key: str) -> str:
        return str(ok(ops[key].post("/api/v1/live/sessions", json={
            "title": f"Trực tiếp {key}{mark[key]}", "target_unit_id": units[key]["id"]}))["id"])

    def group(key: str) -> int:
        return int(ok(api.post("/api/v1/groups", json={
            "name": f"Nhóm {key}{mark[key]}", "device_ids": [f"quet-loa-{key}"]}))["id"])

    def client(key: str) -> int:
        return int(ok(api.post("/api/v1/open311/clients", json={
            "name": f"Ứng dụng {key}{mark[key]}", "unit_id": units[key]["id"]}))["id"])

    def cap_sender(key: str) -> int:
        return int(ok(api.post("/api/v1/cap/senders", json={
            "sender": f"quet-{key}@example.vn", "name": f"Đài {key}{mark[key]}",
            "unit_id": units[key]["id"]}))["id"])

    keys = {key: ok(api.post("/api/v1/open311/clients", json={
        "name": f"Gửi phản ánh {key}", "unit_id": units[key]["id"]}))["api_key"]
        for key in units}
    ok(api.put("/api/v1/feedback/categories", json={
        "code": "quet-nuoc", "name_vi": "Cấp thoát nước", "unit_id": a["id"]}), 200)
    codes: dict[str, str] = {}

    def feedback(key: str) -> int:
        r = httpx.post(f"{base}/api/v1/open311/requests.json", timeout=60, data={
            "service_code": "quet-nuoc", "jurisdiction_id": units[key]["code"],
            "description": f"Cống tắc{mark[key]}", "api_key": keys[key],
            "address_string": f"Ngõ 5{mark[key]}"})
        assert r.status_code == 201, r.text
        codes[key] = r.json()[0]["service_request_id"]
        listed = ok(api.get("/api/v1/feedback", headers={"X-Unit-Id": str(units[key]["id"])}))
        return int(listed["items"][0]["id"])

    course = import_sample(api)
    lesson, quiz = course["lessons"][0]["id"], course["quizzes"][0]["id"]

    def attempt(key: str) -> int:
        return int(ok(ops[key].post(f"/api/v1/training/quizzes/{quiz}/attempts",
                                    json={}))["id"])

    threads: dict[str, int] = {}

    def forum(key: str) -> int:
        category = ok(api.post("/api/v1/forum/categories", json={
            "unit_id": units[key]["id"], "name": f"Diễn đàn {key}{mark[key]}"}))
        threads[key] = int(ok(ops[key].post(
            f"/api/v1/forum/categories/{category['id']}/threads",
            json={"title": f"Hỏi {key}{mark[key]}", "body": f"Câu hỏi{mark[key]}"}))["id"])
        return int(category["id"])

    def post(key: str) -> int:
        return int(ok(ops[key].post(f"/api/v1/forum/threads/{threads[key]}/posts",
                                    json={"body": f"Trả lời{mark[key]}"}))["id"])

    def speech(key: str) -> str:
        return str(ok(ops[key].post("/api/v1/media/speech", json={"text": "Xin chào"}),
                      202)["id"])

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as wheel:
        wheel.writestr("edge_agent/__init__.py", "")
    ok(api.post("/api/v1/releases", files=[("version", (None, RELEASE)),
                                           ("files", (WHEEL, archive.getvalue()))]))
    admins = {key: bearer(base, f"admin_{key}") for key in units}

    def rollout(key: str) -> int:
        return int(ok(admins[key].post("/api/v1/rollouts", json={
            "version": RELEASE, "targets": {"device_ids": [f"quet-loa-{key}"]}}))["id"])

    objects = Objects({
        "bulletin_id": bulletins,
        "schedule_id": _pair(schedule),
        "distribution_id": _pair(distribution),
        "broadcast_id": _pair(emergency),
        "session_id": (sessions := _pair(live_session)),
        "stream_id": sessions,  # a live session's stream: devices pull it (public routes)
        "group_id": _pair(group),
        "client_id": _pair(client),
        "sender_id": _pair(cap_sender),
        "feedback_id": _pair(feedback),
        "ref_code": (codes["a"], codes["b"]),
        "category_id": _pair(forum),
        "thread_id": (str(threads["a"]), str(threads["b"])),
        "post_id": _pair(post),
        "attempt_id": _pair(attempt),
        "job_id": _pair(speech),
        "course_id": (str(course["id"]), str(course["id"])),
        "lesson_id": (str(lesson), str(lesson)),
        "quiz_id": (str(quiz), str(quiz)),
        "code": ("quet-nuoc", "quet-nuoc"),
        "alert_id": ("987654", "987654"),  # none raised on this quiet fleet: permission only
        "peer_id": ("987654", "987654"),  # center-wide routes: permission only
        "row_id": ("987654", "987654"),
        "fmt": ("json", "json"),
        "sha256": ("0" * 64, "0" * 64),
        "rollout_id": _pair(rollout),
        "version": (RELEASE, RELEASE),
        "name": (WHEEL, WHEEL),
    })
    for client_ in (*approvers.values(), *admins.values()):
        client_.close()
    return objects


def build_world(center: CenterHandle, broker: MosquittoBroker) -> Objects:
    """Seed the center; the (inside, outside) value of every path parameter, and bodies."""
    api = center.api
    province = add_unit(api, "quet-tinh", "province", name="Tỉnh quét")
    a = add_unit(api, "quet-xa-a", "commune", province, name="Xã A quét")
    b = add_unit(api, "quet-xa-b", "commune", province, name=f"Xã B {MARK}")
    add_device(api, "quet-loa-a", a, broker=broker, name="Loa A")
    add_device(api, "quet-loa-b", b, broker=broker, name=f"Loa {MARK}")
    users: dict[str, dict[str, Any]] = {}
    for role in Role:
        for key, unit in (("a", a), ("b", b)):
            name = f"{role.value}_{key}"
            users[name] = ok(api.post("/api/v1/users", json={
                "username": name, "password": PASSWORD, "role": role.value, "unit_id": unit["id"],
                "full_name": f"Cán bộ {name}" + (f" {MARK}" if key == "b" else "")}))
            ok(api.post("/api/v1/training/officers", json={  # every user studies too
                "user_id": users[name]["id"], "code": f"cb-{name}".replace("_", "-")[:32],
                "role": "editor"}))
    op_a, op_b = bearer(center.base_url, "operator_a"), bearer(center.base_url, "operator_b")

    objects = _seed_objects(center, a, b, op_a, op_b)
    objects.values.update({
        "unit_id": (str(a["id"]), str(b["id"])),
        "device_id": ("quet-loa-a", "quet-loa-b"),
        "user_id": (str(users["technician_a"]["id"]), str(users["technician_b"]["id"])),
        "action": ("enable", "enable"),
    })
    objects.bodies = {  # valid bodies where the subtree is checked after the body is read
        "POST /api/v1/devices/{device_id}/commands": {"type": "set_volume", "level": 60},
        "POST /api/v1/devices/{device_id}/retire": {"reason": "quét / sweep"},
        "POST /api/v1/devices/{device_id}/revoke": {"reason": "quét / sweep"},
        "POST /api/v1/bulletins/{bulletin_id}/publish": {"unit_ids": [a["id"]]},
        "POST /api/v1/distributions/{distribution_id}/accept": {
            "slot": {"start_at": "2099-02-01T01:00:00Z"}},
        "POST /api/v1/distributions/{distribution_id}/decline": {"note": "không phù hợp"},
        "POST /api/v1/distributions/{distribution_id}/rank": {"rank": 1},
        "POST /api/v1/emergency/{broadcast_id}/send": {"confirm": CONFIRM_WORD},
        "POST /api/v1/cap/senders": {"sender": "quet-moi@example.vn", "name": "Đài mới",
                                     "unit_id": a["id"]},
        "PATCH /api/v1/cap/senders/{sender_id}": {"emergency_rule": "at_once"},
        "POST /api/v1/live/sessions": {"title": "Trực tiếp", "target_unit_id": a["id"]},
        "PUT /api/v1/bulletins/{bulletin_id}/survey": {"questions": [
            {"text": "Bạn có nghe thấy bản tin không?", "kind": "yes_no"}]},
        "POST /api/v1/feedback/{feedback_id}/triage": {"category": "quet-nuoc",
                                                       "unit_id": a["id"]},
        "POST /api/v1/feedback/{feedback_id}/route": {"unit_id": a["id"]},
        "POST /api/v1/feedback/{feedback_id}/assign": {"assignee": "Cán bộ A"},
        "POST /api/v1/feedback/{feedback_id}/notes": {"text": "ghi chú"},
        "POST /api/v1/feedback/{feedback_id}/answer": {"text": "đã xử lý"},
        "POST /api/v1/forum/categories/{category_id}/threads": {"title": "Hỏi", "body": "?"},
        "POST /api/v1/forum/threads/{thread_id}/posts": {"body": "trả lời"},
        "POST /api/v1/forum/threads/{thread_id}/moderate": {"action": "lock"},
        # page forms (with the session's CSRF token added)
        "POST /console/inbox/{distribution_id}/accept": {"slot_kind": "once",
                                                         "at": "2099-02-01T08:00"},
        "POST /console/inbox/{distribution_id}/decline": {"note": "không phù hợp"},
        "POST /console/inbox/{distribution_id}/rank": {"rank": "1"},
        "POST /monitor/training/forum/{category_id}/threads": {"title": "Hỏi", "body": "?"},
        "POST /monitor/training/forum/threads/{thread_id}/reply": {"body": "trả lời"},
        "POST /monitor/training/forum/threads/{thread_id}/moderate": {"action": "lock"},
    }
    op_a.close()
    op_b.close()
    return objects
