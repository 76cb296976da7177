"""Reports up: a province's day figures reach the central center, whose effectiveness report of
the whole country shows the province's units below its mirror unit, summed like local ones.

The province's plays, feedback and answers are rows written through its own sessions (as the
ingest would have stored them, yesterday); its training goes through its training API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from control_center.federation.identity import Identity, load_identity
from control_center.federation.messages import Kind, new_message
from control_center.models import (
    Bulletin,
    BulletinKind,
    BulletinSurvey,
    Device,
    FederatedFigures,
    FederationOutbox,
    Feedback,
    FeedbackStatus,
    PlayLog,
    PlayStatus,
    SurveyAnswer,
    SurveyQuestion,
)
from control_center.models.surveys import SurveyQuestionKind
from protocol.base import Priority
from tests.center.helpers import ok
from tests.federation.conftest import Federation, Site, _site, link
from tests.support.databases import Backend
from tests.support.signin import sign_in_link
from tests.support.tree import add_device
from tests.support.waiting import poll
from tests.training.helpers import import_sample, officer

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HOUR = timedelta(hours=1)
API = "/api/v1/reports/effectiveness"
PHONE, CITIZEN, OFFICER = "0912345678", "Nguyễn Thị Hoa", "Trần Văn Cán Bộ"
FIGURES = ("minutes", "minutes_by_category", "minutes_by_priority", "targeted_devices",
           "devices_played", "coverage_pct", "devices", "feedback", "feedback_by_category",
           "heard_answers", "training_assigned", "training_completed", "training_passed")


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, mosquitto_installed: None,
        db_backend: Backend) -> Iterator[Federation]:
    tmp = tmp_path_factory.mktemp("figures")
    with ExitStack() as stack:
        central = _site(stack, tmp, "central")
        province = _site(stack, tmp, "province-x", federation_figures_s=0.5)
        fed = link(central, province)
        yield fed


def _units(fed: Federation) -> dict[str, dict[str, Any]]:
    p = fed.province
    district = p.unit("huyen-x", "district", fed.province_unit, name="Huyện X")
    return {"tinh-x": fed.province_unit, "huyen-x": district,
            "xa-x1": p.unit("xa-x1", "commune", district, name="Xã X1"),
            "xa-x2": p.unit("xa-x2", "commune", district, name="Xã X2")}


def _play(device: str, bulletin: int | None, at: datetime, status: PlayStatus, n: int,
          seconds: float = 0, priority: Priority = Priority.NORMAL) -> PlayLog:
    ran = status == PlayStatus.COMPLETED
    return PlayLog(device_id=device, item_id=f"item-{n}", bulletin_id=bulletin,
                   priority=priority, scheduled_at=at, status=status,
                   started_at=at if ran else None,
                   ended_at=at + timedelta(seconds=seconds) if ran else None, updated_at=at)


def _records(site: Site, units: dict[str, dict[str, Any]], day: datetime) -> None:
    """Yesterday at the province: plays, feedback (with a citizen's name and phone in its
    text), "did you hear it?" answers."""
    x1, x2 = units["xa-x1"]["id"], units["xa-x2"]["id"]
    at, nine = day + 8 * HOUR, day + 9 * HOUR
    with site.center.center.sessions.begin() as session:
        for device in session.query(Device):
            device.created_at = day - 24 * HOUR
        weather = Bulletin(title="Dự báo thời tiết", category="thoi-tiet",
                           priority=Priority.NORMAL, kind=BulletinKind.AUDIO, created_at=day,
                           updated_at=day)
        session.add(weather)
        session.flush()
        session.add_all([
            _play("loa-x1", weather.id, at, PlayStatus.COMPLETED, 1, seconds=180),
            _play("loa-x2", weather.id, at, PlayStatus.FAILED, 2),
            _play("loa-x2", None, at + HOUR, PlayStatus.COMPLETED, 3, seconds=60,
                  priority=Priority.EMERGENCY),
        ])
        for n, (origin, answered) in enumerate(((x1, nine + HOUR), (x2, None))):
            session.add(Feedback(
                ref_code=f"PA-X-{n}", unit_id=origin, origin_unit_id=origin,
                category="moi-truong", text=f"Tôi là {CITIZEN}, số {PHONE}: rác ở chợ",
                channel="touch", status=FeedbackStatus.ANSWERED if answered
                else FeedbackStatus.NEW, submitted_at=nine, received_at=nine,
                due_at=nine + 2 * HOUR, answered_at=answered,
                answer="Đã dọn" if answered else None, updated_at=nine, phone=PHONE,
                contact_consent=True, address=f"nhà {CITIZEN}"))
        survey = BulletinSurvey(bulletin_id=weather.id, starts_at=day, ends_at=day + 48 * HOUR,
                                created_by="test", created_at=day)
        session.add(survey)
        session.flush()
        question = SurveyQuestion(survey_id=survey.id, position=0, text="Bạn có nghe không?",
                                  kind=SurveyQuestionKind.YES_NO,
                                  choices=json.dumps(["Có", "Không"]))
        session.add(question)
        session.flush()
        for n, (unit, choice) in enumerate(((x1, 0), (x1, 0), (x2, 1))):
            session.add(SurveyAnswer(event_id=f"ans-x-{n}", question_id=question.id,
                                     device_id="kiosk-x2", unit_id=unit, choice=choice,
                                     channel="touch", answered_at=nine, received_at=nine))


def _report(site: Site, unit_id: int, day: datetime) -> dict[str, Any]:
    return ok(site.api.get(API, params={"unit_id": unit_id, "start": day.isoformat(),
                                        "end": (day + 24 * HOUR).isoformat()}))


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in FIGURES}


def _payloads(site: Site) -> list[dict[str, Any]]:
    with site.center.center.sessions() as session:
        envelopes = session.scalars(select(FederationOutbox.envelope).where(
            FederationOutbox.kind == Kind.FIGURES.value).order_by(FederationOutbox.id))
        bodies = [json.loads(json.loads(e)["body"]) for e in envelopes]
    return [b["payload"] for b in bodies]


def _identity(site: Site) -> Identity:
    return load_identity(site.center.data_dir / "center_identity_ed25519.pem", site.name)


def _post(sender: Site, receiver: Site, payload: dict[str, Any],
          at: datetime | None = None) -> dict[str, Any]:
    """A signed ``figures`` message straight to ``receiver``; returns its receipt."""
    message = new_message(sender=sender.name, to=receiver.name, kind=Kind.FIGURES,
                          at=at or datetime.now(UTC), payload=payload)
    r = httpx.post(f"{receiver.center.base_url}/api/v1/federation/messages", timeout=10,
                   json={"messages": [_identity(sender).signer.seal(message).decode()]})
    assert r.status_code == 200, r.text
    (receipt,) = r.json()["receipts"]
    return dict(receipt)


def test_province_figures_roll_up_to_the_country(fed: Federation) -> None:
    province, central = fed.province, fed.central
    units = _units(fed)
    for device_id, unit, kind in (("loa-x1", "xa-x1", "speaker"), ("loa-x2", "xa-x2",
                                  "speaker"), ("kiosk-x2", "xa-x2", "kiosk")):
        add_device(province.api, device_id, units[unit], kind=kind)
    course = import_sample(province.api)
    learner = officer(province.api, units["xa-x1"], name=OFFICER)
    ok(province.api.post("/api/v1/training/assignments", json={
        "course_id": course["id"], "unit_id": units["tinh-x"]["id"], "role": "editor"}))
    today = datetime.now(TZ).date()
    day = datetime.combine(today - timedelta(days=1), time(), TZ)
    _records(province, units, day)
    local = _report(province, units["tinh-x"]["id"], day)
    assert local["rows"][2]["minutes"] == 3.0  # xa-x1: the province counts it itself

    # the central report of the country: the province's rows below its mirror unit
    country = fed.central_unit["id"]
    report = poll(lambda: _report(central, country, day),
                  lambda r: r["rows"][0]["minutes"] == 4.0 and len(r["rows"]) == 5, 30,
                  "the province's figures in the central report")
    assert [(r["unit_code"], r["depth"], r["center_id"]) for r in report["rows"]] == [
        ("vn", 0, None), ("tinh-x", 1, None), ("huyen-x", 2, "province-x"),
        ("xa-x1", 3, "province-x"), ("xa-x2", 3, "province-x")]
    # every row below the country's equals the province's own row for the same unit
    for mine, theirs in zip(report["rows"][1:], local["rows"], strict=True):
        assert _figures(mine) == _figures(theirs), mine["unit_code"]
    total = report["rows"][0]
    assert (total["minutes"], total["minutes_by_category"], total["minutes_by_priority"]) == (
        4.0, {"": 1.0, "thoi-tiet": 3.0}, {"emergency": 1.0, "normal": 3.0})
    assert (total["targeted_devices"], total["devices_played"], total["coverage_pct"]) == (
        2, 2, 100.0)
    assert total["feedback"] == {"received": 2, "answered": 1, "answered_on_time": 1,
                                 "overdue": 1}
    assert (total["devices"], total["training_assigned"], total["training_passed"]) == (3, 1, 0)
    (heard,) = total["heard"]
    assert (heard["bulletin_title"], heard["counts"], heard["shares_pct"]) == (
        "Dự báo thời tiết", [2, 1], [66.7, 33.3])
    (source,) = report["federated"]
    assert (source["center_id"], source["days"]) == ("province-x", [day.date().isoformat()])

    csv_text = central.api.get(API, params={"unit_id": country, "format": "csv",
                                            "start": day.isoformat(),
                                            "end": (day + 24 * HOUR).isoformat()}).text
    assert [line.split(",")[1] for line in csv_text.splitlines()[1:]] == [
        "vn", "tinh-x", "huyen-x", "xa-x1", "xa-x2"]

    # the central page: the province's units indented below its mirror, the report's time
    query = f"unit_id={country}&start={day.date()}&end={day.date()}"
    with httpx.Client(timeout=10, follow_redirects=True) as pages:
        page = pages.get(sign_in_link(central.center, next=f"/monitor/effectiveness?{query}"))
    assert page.status_code == 200, page.text
    assert 'id="federated"' in page.text and "Trung tâm tỉnh X" in page.text
    assert "Xã X1" in page.text and "Dự báo thời tiết" in page.text

    # no personal data went up: no citizen's text, name or phone, no officer, no device id
    sent = json.dumps(_payloads(province), ensure_ascii=False)
    assert "Dự báo thời tiết" in sent  # the payloads are read as sent
    for secret in (PHONE, CITIZEN, "rác ở chợ", OFFICER, learner["username"], learner["code"],
                   "loa-x1", "kiosk-x2"):
        assert secret not in sent, secret

    # a later play of the same day: the next report replaces the day's figures, not adds
    with province.center.center.sessions.begin() as session:
        session.add(_play("loa-x1", None, day + 20 * HOUR, PlayStatus.COMPLETED, 4,
                          seconds=120))
    report = poll(lambda: _report(central, country, day),
                  lambda r: r["rows"][0]["minutes"] != 4.0, 30, "the day's second report")
    assert report["rows"][0]["minutes"] == 6.0 and report["rows"][3]["minutes"] == 5.0
    # that report carried only the unit that changed
    latest = [p for p in _payloads(province) if p["day"] == day.date().isoformat()][-1]
    assert latest["partial"] is True and [u["code"] for u in latest["units"]] == ["xa-x1"]
    with central.center.center.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(FederatedFigures).where(
            FederatedFigures.day == day.date().isoformat()))
    assert stored == 4  # one row per unit of the province for the day

    # an older report of the same day does not replace the newer one
    old = json.loads(json.dumps(_payloads(province)[0]))
    old["day"] = day.date().isoformat()
    receipt = _post(province, central, old, at=datetime.now(UTC) - timedelta(days=1))
    assert receipt["outcome"] == "applied"
    assert _report(central, country, day)["rows"][0]["minutes"] == 6.0


def test_figures_from_a_parent_or_malformed_are_refused(fed: Federation) -> None:
    day = (datetime.now(TZ).date() - timedelta(days=1)).isoformat()
    top: dict[str, Any] = {"code": "tinh-x", "name": "Tỉnh X", "level": "province",
                           "figures": {}}
    good: dict[str, Any] = {"day": day, "tz": "Asia/Ho_Chi_Minh", "units": [top]}
    receipt = _post(fed.central, fed.province, good)
    assert receipt["outcome"] == "refused"
    assert "only a child center sends figures up" in receipt["reason"]
    bad = {**good, "units": [{**top, "figures": {"devices_played": -1}}]}
    receipt = _post(fed.province, fed.central, bad)
    assert receipt["outcome"] == "refused" and "invalid figures" in receipt["reason"]
    assert "devices_played" in receipt["reason"]
    stray = {**good, "units": [top, {"code": "xa-y", "name": "Xã Y", "level":
                                                "commune", "parent_code": "huyen-y",
                                                "figures": {}}]}
    receipt = _post(fed.province, fed.central, stray)
    assert receipt["outcome"] == "refused" and "huyen-y" in receipt["reason"]
