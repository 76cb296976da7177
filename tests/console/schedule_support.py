"""Helpers of the scheduling tests: approved bulletins through the workflow, rule bodies."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from control_center.models import Schedule
from tests.center.helpers import ok, ready_media
from tests.console.conftest import Tree
from tests.support.audio import make_tone

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def approved_audio(tree: Tree, tmp: Path, *, author: str, approver: str, title: str,
                   seconds: float, freq: int = 440) -> dict[str, Any]:
    """An audio bulletin of ``author``'s unit, submitted and approved by ``approver``."""
    api = tree.api_as(author)
    media = ready_media(api, make_tone(tmp / f"{title[:20]}-{seconds}-{freq}.wav", seconds, freq))
    bulletin = ok(api.post("/api/v1/bulletins", json={
        "title": title, "priority": "normal", "media_sha256": media["sha256"]}))
    assert bulletin["status"] == "draft"
    ok(api.post(f"/api/v1/bulletins/{bulletin['id']}/submit"), 200)
    approved = ok(tree.api_as(approver).post(f"/api/v1/bulletins/{bulletin['id']}/approve"), 200)
    assert approved["status"] == "approved"
    approved["delivery"] = media["delivery"]
    return approved


def today_local() -> datetime:
    """Local midnight of today, as an aware datetime."""
    return datetime.combine(datetime.now(LOCAL).date(), time(0), tzinfo=LOCAL)


def daily(bulletin_id: int, hour: int, minute: int, **targets: list[Any]) -> dict[str, Any]:
    """A body for a daily slot at ``hour:minute`` local from today on."""
    return {"bulletin_id": bulletin_id, "valid_from": today_local().isoformat(),
            "rrule": f"FREQ=DAILY;BYHOUR={hour};BYMINUTE={minute};BYSECOND=0",
            "targets": targets}


def schedule_count(tree: Tree) -> int:
    with tree.center.center.read_sessions() as session:
        return session.scalar(select(func.count()).select_from(Schedule)) or 0
