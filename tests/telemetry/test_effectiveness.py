"""Effectiveness per unit and period: a province, a district and two communes, with plays,
health samples in a real influxd, feedback, "did you hear it?" answers and training results;
exact figures per unit, subtotals, CSV, JSON, scope, bad input and the page in Chromium.
Plays, feedback and answers are rows written through the center's own sessions (the records the
ingest would have stored, in a past day); health samples go into influxd over its HTTP write
API; training goes through the training API."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser

from control_center.models import (
    Bulletin,
    BulletinKind,
    BulletinSurvey,
    Device,
    Feedback,
    FeedbackStatus,
    PlayLog,
    PlayStatus,
    SurveyAnswer,
    SurveyQuestion,
)
from control_center.models.surveys import SurveyQuestionKind
from firmware_sim.broker import MosquittoBroker, find_executable
from firmware_sim.influx import InfluxServer
from protocol.base import Priority
from tests.support.center import CenterHandle, running_center
from tests.support.databases import Backend
from tests.support.signin import sign_in_link
from tests.support.tree import add_device, add_unit
from tests.training.helpers import as_officer, import_sample, officer, ok, user

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DB = "telemetry"
HOUR = timedelta(hours=1)
API = "/api/v1/reports/effectiveness"
RIGHT = {"nam-cau-hoi": ["b"], "do-dai-cau": ["a"], "nhac-lai": ["a", "b"],
         "tin-khan-cap": ["b"]}
_ids = itertools.count(1)


@dataclass
class World:
    center: CenterHandle
    influx: InfluxServer
    units: dict[str, dict[str, Any]]
    day: datetime  # 00:00 local of the reported day (yesterday)
    commune_token: str  # a learner of xa-e1
    commune_user: str  # ... and their user name

    @property
    def period(self) -> dict[str, str]:
        return {"start": self.day.isoformat(), "end": (self.day + 24 * HOUR).isoformat()}

    def report(self, unit: str, **params: Any) -> dict[str, Any]:
        r = self.center.api.get(API, params={"unit_id": self.units[unit]["id"], **self.period,
                                             **params})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory,
           db_backend: Backend) -> Iterator[InfluxServer]:
    with InfluxServer(tmp_path_factory.mktemp("influx")) as server:
        yield server


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, influx: InfluxServer,
          db_backend: Backend) -> Iterator[World]:
    find_executable("mosquitto")
    with MosquittoBroker(tmp_path_factory.mktemp("broker")) as broker, running_center(
        tmp_path_factory.mktemp("center"), mqtt_host=broker.host,
        mqtt_port=broker.center_port, mqtt_password=broker.center_password,
        influx_url=influx.url, influx_db=DB, silence_s=3600.0,  # availability in hours
    ) as center:
        api = center.api
        province = add_unit(api, "tinh-e", "province", name="Tỉnh E")
        district = add_unit(api, "huyen-e", "district", province, name="Huyện E")
        units = {"tinh-e": province, "huyen-e": district,
                 "xa-e1": add_unit(api, "xa-e1", "commune", district, name="Xã E1"),
                 "xa-e2": add_unit(api, "xa-e2", "commune", district, name="Xã E2")}
        for device_id, unit, kind in (("loa-e1a", "xa-e1", "speaker"),
                                      ("loa-e1b", "xa-e1", "speaker"),
                                      ("loa-e2a", "xa-e2", "speaker"),
                                      ("kiosk-e2", "xa-e2", "kiosk")):
            add_device(api, device_id, units[unit], kind=kind)
        today = center.center.clock().astimezone(TZ).date()
        day = datetime.combine(today - timedelta(days=1), time(), TZ)
        _records(center, units, day)
        _health(influx, day)
        _training(center, units)
        learner = user(api, units["xa-e1"])
        yield World(center, influx, units, day, learner["token"], learner["username"])


def _play(device: str, bulletin: int | None, at: datetime, status: PlayStatus, *,
          seconds: float = 0, priority: Priority = Priority.NORMAL,
          heard_ms: int | None = None) -> PlayLog:
    ran = status in (PlayStatus.COMPLETED, PlayStatus.INTERRUPTED)
    return PlayLog(device_id=device, item_id=f"item-{next(_ids)}", bulletin_id=bulletin,
                   priority=priority, scheduled_at=at, status=status,
                   started_at=at if ran else None,
                   ended_at=at + timedelta(seconds=seconds) if ran else None,
                   heard_ms=heard_ms, updated_at=at)


def _feedback(origin: int, handler: int, category: str, received: datetime, due: datetime,
              answered: datetime | None, status: FeedbackStatus) -> Feedback:
    n = next(_ids)
    return Feedback(ref_code=f"PA-E-{n:05d}", unit_id=handler, origin_unit_id=origin,
                    category=category, text=f"Phản ánh {n}", channel="touch", status=status,
                    submitted_at=received, received_at=received, due_at=due,
                    answered_at=answered, answer="Đã xử lý" if answered else None,
                    updated_at=received)


def _records(center: CenterHandle, units: dict[str, dict[str, Any]], day: datetime) -> None:
    """Bulletins, plays, feedback and answers of the reported day (and a few outside it)."""
    e1, e2, province = units["xa-e1"]["id"], units["xa-e2"]["id"], units["tinh-e"]["id"]
    before = day - 3 * 24 * HOUR
    with center.center.sessions.begin() as session:
        for device in session.query(Device):  # registered before the period
            device.created_at = before
        made = dict(created_at=day, updated_at=day)
        weather = Bulletin(title="Dự báo thời tiết", category="thoi-tiet",
                           priority=Priority.NORMAL, kind=BulletinKind.AUDIO, **made)
        security = Bulletin(title="An ninh trật tự", category="an-ninh",
                            priority=Priority.PRIORITY, kind=BulletinKind.AUDIO, **made)
        notice = Bulletin(title="Thông báo lịch tiêm", category="thoi-tiet",
                          priority=Priority.NORMAL, kind=BulletinKind.TEXT, text="Lịch tiêm",
                          **made)
        session.add_all([weather, security, notice])
        session.flush()
        at = day + 8 * HOUR
        session.add_all([
            _play("loa-e1a", weather.id, at, PlayStatus.COMPLETED, seconds=120),
            _play("loa-e1a", security.id, at + HOUR, PlayStatus.COMPLETED, seconds=60,
                  priority=Priority.PRIORITY),
            _play("loa-e1a", weather.id, before, PlayStatus.COMPLETED, seconds=300),  # outside
            _play("loa-e1b", weather.id, at, PlayStatus.FAILED),
            _play("loa-e1b", security.id, at + HOUR, PlayStatus.CANCELLED),  # not counted
            _play("loa-e2a", weather.id, at, PlayStatus.INTERRUPTED, seconds=30),
            _play("loa-e2a", None, at + 2 * HOUR, PlayStatus.COMPLETED,  # live, 1.5 min heard
                  priority=Priority.EMERGENCY, seconds=600, heard_ms=90_000),
            _play("kiosk-e2", notice.id, at, PlayStatus.SHOWN),
        ])
        nine = day + 9 * HOUR
        session.add_all([
            # xa-e1: answered on time; answered late after escalation to the province
            _feedback(e1, e1, "moi-truong", nine, nine + 72 * HOUR, nine + HOUR,
                      FeedbackStatus.ANSWERED),
            _feedback(e1, province, "moi-truong", nine, nine + 3 * HOUR, nine + 6 * HOUR,
                      FeedbackStatus.ANSWERED),
            # xa-e2: open past its due instant; open and not yet due; one before the period
            _feedback(e2, e2, "an-ninh", nine, nine + HOUR, None, FeedbackStatus.TRIAGED),
            _feedback(e2, e2, "an-ninh", nine, nine + 30 * 24 * HOUR, None, FeedbackStatus.NEW),
            _feedback(e2, e2, "an-ninh", before, before + HOUR, None, FeedbackStatus.NEW),
        ])
        survey = BulletinSurvey(bulletin_id=weather.id, starts_at=day, ends_at=day + 48 * HOUR,
                                created_by="test", created_at=day)
        session.add(survey)
        session.flush()
        question = SurveyQuestion(survey_id=survey.id, position=0,
                                  text="Bạn có nghe bản tin thời tiết không?",
                                  kind=SurveyQuestionKind.YES_NO,
                                  choices=json.dumps(["Có", "Không"]))
        session.add(question)
        session.flush()
        for unit, choice, when in ((e1, 0, nine), (e1, 0, nine), (e1, 0, nine), (e1, 1, nine),
                                   (e2, 0, nine), (e2, 1, before)):
            session.add(SurveyAnswer(event_id=f"ans-{next(_ids)}", question_id=question.id,
                                     device_id="kiosk-e2", unit_id=unit, choice=choice,
                                     channel="touch", answered_at=when, received_at=when))


def _health(influx: InfluxServer, day: datetime) -> None:
    """Hourly buckets of the day with a sample: loa-e1a 24, loa-e1b 12, loa-e2a 6 (two samples
    in each of its hours), kiosk-e2 none; one loa-e1b sample the day before (not counted)."""
    influx.query(f"CREATE DATABASE {DB}")
    lines = []

    def point(device: str, at: datetime) -> None:
        lines.append(f'health,device_id={device} sample_id="s{next(_ids)}",load1=0.5 '
                     f"{int(at.timestamp() * 1000)}")

    for hour in range(24):
        point("loa-e1a", day + hour * HOUR + timedelta(minutes=5))
    for hour in range(12):
        point("loa-e1b", day + hour * HOUR + timedelta(minutes=30))
    for hour in range(6):
        point("loa-e2a", day + hour * HOUR)
        point("loa-e2a", day + hour * HOUR + timedelta(minutes=40))
    point("loa-e1b", day - timedelta(minutes=30))
    r = httpx.post(f"{influx.url}/write", params={"db": DB, "precision": "ms"},
                   content="\n".join(lines), timeout=30)
    assert r.status_code == 204, r.text


def _training(center: CenterHandle, units: dict[str, dict[str, Any]]) -> None:
    """An editor of each commune assigned the sample course; xa-e1's passes its quiz."""
    api = center.api
    course = import_sample(api)
    editor_1 = officer(api, units["xa-e1"])
    officer(api, units["xa-e2"])
    ok(api.post("/api/v1/training/assignments", json={
        "course_id": course["id"], "unit_id": units["tinh-e"]["id"], "role": "editor"}))
    attempt = ok(api.post(f"/api/v1/training/quizzes/{course['quizzes'][0]['id']}/attempts",
                          headers=as_officer(editor_1)))
    result = ok(api.post(f"/api/v1/training/attempts/{attempt['id']}/submit",
                         headers=as_officer(editor_1), json={"answers": RIGHT}))
    assert result["passed"] is True


def test_figures_per_unit_with_subtotals(world: World) -> None:
    report = world.report("tinh-e")
    rows = {r["unit_code"]: r for r in report["rows"]}
    assert [(r["unit_code"], r["depth"]) for r in report["rows"]] == [
        ("tinh-e", 0), ("huyen-e", 1), ("xa-e1", 2), ("xa-e2", 2)]
    e1, e2 = rows["xa-e1"], rows["xa-e2"]
    # broadcast minutes and coverage
    assert (e1["minutes"], e1["minutes_by_category"], e1["minutes_by_priority"]) == (
        3.0, {"an-ninh": 1.0, "thoi-tiet": 2.0}, {"normal": 2.0, "priority": 1.0})
    assert (e2["minutes"], e2["minutes_by_category"], e2["minutes_by_priority"]) == (
        2.0, {"": 1.5, "thoi-tiet": 0.5}, {"emergency": 1.5, "normal": 0.5})
    assert (e1["targeted_devices"], e1["devices_played"], e1["coverage_pct"]) == (2, 1, 50.0)
    assert (e2["targeted_devices"], e2["devices_played"], e2["coverage_pct"]) == (2, 2, 100.0)
    # availability: hourly buckets heard / expected
    assert (e1["devices"], e1["buckets_heard"], e1["buckets_expected"],
            e1["availability_pct"]) == (2, 36, 48, 75.0)
    assert (e2["devices"], e2["buckets_heard"], e2["buckets_expected"],
            e2["availability_pct"]) == (2, 6, 48, 12.5)
    # feedback, counted at the commune it came from (one was escalated to the province)
    assert e1["feedback"] == {"received": 2, "answered": 2, "answered_on_time": 1, "overdue": 1}
    assert e2["feedback"] == {"received": 2, "answered": 0, "answered_on_time": 0, "overdue": 1}
    # "did you hear it?" and training
    assert e1["heard_answers"] == 4 and e2["heard_answers"] == 1
    assert [(h["counts"], h["shares_pct"]) for h in e1["heard"]] == [([3, 1], [75.0, 25.0])]
    assert (e1["training_assigned"], e1["training_completed"], e1["training_passed"],
            e1["training_pass_pct"]) == (1, 0, 1, 100.0)
    assert (e2["training_assigned"], e2["training_passed"], e2["training_pass_pct"]) == (1, 0, 0.0)

    # the district is the sum of its communes, the province (the total) the same
    for code in ("huyen-e", "tinh-e"):
        row = rows[code]
        assert (row["minutes"], row["minutes_by_category"], row["minutes_by_priority"]) == (
            5.0, {"": 1.5, "an-ninh": 1.0, "thoi-tiet": 2.5},
            {"emergency": 1.5, "normal": 2.5, "priority": 1.0})
        assert (row["targeted_devices"], row["devices_played"], row["coverage_pct"]) == (4, 3, 75.0)
        assert (row["devices"], row["buckets_heard"], row["buckets_expected"],
                row["availability_pct"]) == (4, 42, 96, 43.8)
        assert row["feedback"] == {"received": 4, "answered": 2, "answered_on_time": 1,
                                   "overdue": 2}
        assert row["feedback_by_category"] == {
            "an-ninh": {"received": 2, "answered": 0, "answered_on_time": 0, "overdue": 1},
            "moi-truong": {"received": 2, "answered": 2, "answered_on_time": 1, "overdue": 1}}
        assert row["heard_answers"] == 5
        assert [(h["question"], h["choices"], h["counts"], h["shares_pct"])
                for h in row["heard"]] == [("Bạn có nghe bản tin thời tiết không?",
                                            ["Có", "Không"], [4, 1], [80.0, 20.0])]
        assert (row["training_assigned"], row["training_completed"], row["training_passed"],
                row["training_completion_pct"], row["training_pass_pct"]) == (2, 0, 1, 0.0, 50.0)
    assert report["availability_note"] is None
    assert report["broadcast_categories"] == ["", "an-ninh", "thoi-tiet"]
    # a period before the day has none of it
    empty = world.center.api.get(API, params={
        "unit_id": world.units["tinh-e"]["id"], "start": (world.day - 48 * HOUR).isoformat(),
        "end": (world.day - 24 * HOUR).isoformat()}).json()["rows"][0]
    assert (empty["minutes"], empty["targeted_devices"], empty["coverage_pct"],
            empty["feedback"]["received"], empty["heard_answers"]) == (0.0, 0, None, 0, 0)


def test_csv_has_one_line_per_unit(world: World) -> None:
    r = world.center.api.get(API, params={"unit_id": world.units["tinh-e"]["id"],
                                          **world.period, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["unit_code"] for row in table] == ["tinh-e", "huyen-e", "xa-e1", "xa-e2"]
    total, _, e1, _ = table
    assert list(total)[:8] == ["unit_id", "unit_code", "unit_name", "level", "depth", "minutes",
                               "minutes_normal", "minutes_priority"]
    assert {k: total[k] for k in (
        "minutes", "minutes_emergency", "coverage_pct", "availability_pct", "feedback_received",
        "feedback_answered_on_time", "feedback_overdue", "heard_answers", "training_passed",
        "minutes_uncategorised", "minutes_category:thoi-tiet",
        "feedback_received_category:an-ninh")} == {
        "minutes": "5.0", "minutes_emergency": "1.5", "coverage_pct": "75.0",
        "availability_pct": "43.8", "feedback_received": "4",
        "feedback_answered_on_time": "1", "feedback_overdue": "2", "heard_answers": "5",
        "training_passed": "1", "minutes_uncategorised": "1.5",
        "minutes_category:thoi-tiet": "2.5", "feedback_received_category:an-ninh": "2"}
    assert (e1["unit_name"], e1["depth"], e1["coverage_pct"]) == ("Xã E1", "2", "50.0")


def test_scope_and_bad_input(world: World) -> None:
    api, units = world.center.api, world.units
    commune = {"Authorization": f"Bearer {world.commune_token}"}
    own = api.get(API, params=world.period, headers=commune)  # default: the user's own unit
    assert own.status_code == 200, own.text
    assert [r["unit_code"] for r in own.json()["rows"]] == ["xa-e1"]
    for outside in ("huyen-e", "xa-e2"):
        r = api.get(API, params={"unit_id": units[outside]["id"], **world.period},
                    headers=commune)
        assert r.status_code == 404, r.text
    start = world.day.isoformat()
    cases = [
        ({"unit_id": units["tinh-e"]["id"], "start": start,
          "end": (world.day - HOUR).isoformat()}, 422, "end must be after start"),
        ({"unit_id": units["tinh-e"]["id"], "start": start,
          "end": (world.day + 367 * 24 * HOUR).isoformat()}, 422, "366 days"),
        ({"unit_id": units["tinh-e"]["id"], "start": "2026-01-01T00:00:00",
          "end": "2026-01-02T00:00:00"}, 422, "time zone"),
        ({"unit_id": 987654, **world.period}, 404, "does not exist"),
        ({"unit_id": "tinh", **world.period}, 422, "unit_id"),
        ({**world.period}, 422, "unit_id is required"),
        ({"unit_id": units["tinh-e"]["id"], **world.period, "format": "xml"}, 422, "format"),
    ]
    for params, status, words in cases:
        r = api.get(API, params=params)
        assert (r.status_code, words in r.text) == (status, True), (params, r.text)
    with httpx.Client(follow_redirects=True, timeout=30) as pages:
        day = world.day.date()
        for query, status in ((f"start={day}&end={day - timedelta(days=1)}", 422),
                              (f"start={day - timedelta(days=400)}&end={day}", 422),
                              (f"unit_id=987654&start={day}&end={day}", 404),
                              (f"unit_id=x&start={day}", 422)):
            r = pages.get(sign_in_link(world.center, next=f"/monitor/effectiveness?{query}"))
            assert r.status_code == status, (query, r.status_code, r.text[:300])
    with httpx.Client(follow_redirects=True, timeout=30) as pages:  # the commune's learner
        r = pages.get(sign_in_link(world.center, user=world.commune_user,
                                   next=f"/monitor/effectiveness?unit_id={units['huyen-e']['id']}"))
        assert r.status_code == 404, r.text[:300]
        r = pages.get(f"{world.center.base_url}/monitor/effectiveness")
        assert r.status_code == 200 and 'data-unit="xa-e1"' in r.text
        assert 'data-unit="xa-e2"' not in r.text and "Huyện E (" not in r.text


def test_page_shows_the_tree_charts_and_csv(world: World, browser: Browser) -> None:
    day = world.day.date().isoformat()
    page = browser.new_page()
    page.goto(sign_in_link(world.center, next=f"/monitor/effectiveness?unit_id="
                                              f"{world.units['tinh-e']['id']}&start={day}"
                                              f"&end={day}"))
    total = page.locator("#effectiveness tr.total")
    assert [total.locator(f"td.{c}").inner_text() for c in (
        "minutes", "played", "coverage", "availability", "received", "on-time", "overdue",
        "heard", "training-passed")] == [
        "5.00", "3/4", "75.0 %", "43.8 %", "4", "1", "2", "5", "1 (50.0 %)"]
    assert page.locator("#effectiveness tbody tr").count() == 4
    assert page.locator("tr[data-unit='xa-e2'] td.coverage").inner_text() == "100.0 %"
    assert page.locator("svg.chart.bars").count() == 4
    assert page.locator("svg[data-field='coverage']").get_attribute("data-points") == "1"
    assert "Có: 4 (80.0 %); Không: 1 (20.0 %)" in page.locator("#heard").inner_text()
    assert "Dự báo thời tiết" in page.locator("#heard").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "effectiveness.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#csv")
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert [line.split(",")[1] for line in lines[1:]] == ["tinh-e", "huyen-e", "xa-e1", "xa-e2"]
    page.close()


def test_without_influxdb_availability_says_no_data(world: World, browser: Browser) -> None:
    """Last in the module: influxd is stopped, the report still answers, without the figure."""
    world.influx.stop()
    report = world.report("tinh-e")
    assert "InfluxDB" in report["availability_note"]
    assert [r["availability_pct"] for r in report["rows"]] == [None] * 4
    assert report["rows"][0]["minutes"] == 5.0  # the rest stands
    page = browser.new_page()
    day = world.day.date().isoformat()
    page.goto(sign_in_link(world.center, next=f"/monitor/effectiveness?unit_id="
                                              f"{world.units['tinh-e']['id']}&start={day}"
                                              f"&end={day}"))
    assert page.locator("#effectiveness tr.total td.availability").inner_text() == \
        "không có số liệu / no data"
    assert page.locator("#availability-note").is_visible()
    page.close()
