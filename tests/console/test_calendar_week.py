"""The week calendar's contents, with fixed instants on a real migrated SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.db import create_db_engine, session_factory, upgrade_database
from control_center.errors import NotFound
from control_center.models import (
    AdminUnit,
    Bulletin,
    BulletinKind,
    BulletinStatus,
    Device,
    Role,
    Schedule,
    ScheduleKind,
    ScheduleTarget,
)
from control_center.services.calendar import (
    Entry,
    monday_of,
    unscheduled_bulletins,
    week_bounds,
    week_entries,
)
from control_center.web.console.calendar_view import build_grid
from protocol.base import Priority
from protocol.events import DeviceKind
from tests.support.databases import Backend, Databases

TZ = "Asia/Ho_Chi_Minh"
MONDAY = date(2026, 3, 2)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path, databases: Databases, db_backend: Backend) -> Iterator[Session]:
    engine = create_db_engine(databases.url_for(tmp_path, db_backend))
    upgrade_database(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def _unit(session: Session, code: str, parent: int | None = None) -> int:
    unit = AdminUnit(code=code, name=code, level="x", parent_id=parent, created_at=LONG_AGO)
    session.add(unit)
    session.flush()
    return unit.id


def _bulletin(session: Session, title: str, unit_id: int | None,
              status: BulletinStatus = BulletinStatus.APPROVED,
              priority: Priority = Priority.NORMAL) -> int:
    bulletin = Bulletin(title=title, priority=priority, kind=BulletinKind.TEXT, text=title,
                        created_at=LONG_AGO, updated_at=LONG_AGO, status=status, unit_id=unit_id)
    session.add(bulletin)
    session.flush()
    return bulletin.id


def _schedule(session: Session, bulletin_id: int, target: ScheduleTarget, *,
              rrule: str | None = None, start_at: datetime | None = None, unit_id: int,
              created_at: datetime = LONG_AGO) -> int:
    schedule = Schedule(
        bulletin_id=bulletin_id, kind=ScheduleKind.ONE_OFF if start_at else ScheduleKind.RECURRING,
        start_at=start_at, rrule=rrule, valid_from=None if start_at else LONG_AGO, timezone=TZ,
        revision=1, created_at=created_at, updated_at=created_at, unit_id=unit_id,
        targets=[target])
    session.add(schedule)
    session.flush()
    return schedule.id


@pytest.fixture
def world(db: Session) -> dict[str, int]:
    p = _unit(db, "tinh")
    a, b = _unit(db, "xa-a", p), _unit(db, "xa-b", p)
    for dev, unit in (("loa-a1", a), ("loa-a2", a), ("loa-b1", b)):
        db.add(Device(id=dev, name=dev, kind=DeviceKind.SPEAKER, unit_id=unit,
                      mqtt_password_hash="x", created_at=LONG_AGO))
    morning = _bulletin(db, "Bản tin sáng", a, BulletinStatus.SCHEDULED)
    urgent = _bulletin(db, "Tin ưu tiên xã B", b, BulletinStatus.SCHEDULED, Priority.PRIORITY)
    ids = {"p": p, "a": a, "b": b, "morning": morning, "urgent": urgent}
    ids["daily"] = _schedule(db, morning, ScheduleTarget(unit_id=a), unit_id=a,
                             rrule="FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0")
    # Wednesday 4 March 17:30 local on commune B's speaker
    ids["once_b"] = _schedule(db, urgent, ScheduleTarget(device_id="loa-b1"), unit_id=b,
                              start_at=datetime(2026, 3, 4, 10, 30, tzinfo=UTC))
    # made on Wednesday 12:00 local: its 11:00 slots play from Thursday on
    ids["late"] = _schedule(db, morning, ScheduleTarget(device_id="loa-a1"), unit_id=a,
                            rrule="FREQ=WEEKLY;BYDAY=WE,TH,SA;BYHOUR=11;BYMINUTE=0;BYSECOND=0",
                            created_at=datetime(2026, 3, 4, 5, 0, tzinfo=UTC))
    # the province's own bulletin, placed on the whole province on Sunday 20:00 local
    notice = _bulletin(db, "Thông báo của tỉnh", p, BulletinStatus.SCHEDULED)
    ids["province"] = _schedule(db, notice, ScheduleTarget(unit_id=p), unit_id=p,
                                start_at=datetime(2026, 3, 8, 13, 0, tzinfo=UTC))
    cancelled = _schedule(db, urgent, ScheduleTarget(unit_id=p), unit_id=p,
                          rrule="FREQ=DAILY;BYHOUR=8;BYMINUTE=0;BYSECOND=0")
    row = db.get(Schedule, cancelled)
    assert row is not None
    row.cancelled_at = LONG_AGO
    db.flush()
    return ids


def _actor(name: str, unit: int, scope: set[int]) -> Actor:
    return Actor(name=name, role=Role.OPERATOR, unit_id=unit, scope=frozenset(scope))


def _shown(entries: list[Entry]) -> list[tuple[int, str, int]]:
    return [(e.schedule_id, e.start.strftime("%a %d %H:%M"), e.devices) for e in entries]


def test_week_is_monday_to_sunday_local() -> None:
    assert monday_of(date(2026, 3, 8)) == MONDAY and monday_of(MONDAY) == MONDAY
    start, end = week_bounds(MONDAY, TZ)
    assert (start.isoformat(), end.isoformat()) == ("2026-03-01T17:00:00+00:00",
                                                    "2026-03-08T17:00:00+00:00")


def test_province_sees_every_commune_and_can_narrow_to_one(
    db: Session, world: dict[str, int],
) -> None:
    prov = _actor("prov_op", world["p"], {world["p"], world["a"], world["b"]})
    everything = week_entries(db, actor=prov, unit_id=world["p"], monday=MONDAY, local_tz=TZ)
    daily, once_b, late = world["daily"], world["once_b"], world["late"]
    assert _shown(everything) == [
        (daily, "Mon 02 06:00", 2), (daily, "Tue 03 06:00", 2), (daily, "Wed 04 06:00", 2),
        (once_b, "Wed 04 17:30", 1),
        (daily, "Thu 05 06:00", 2), (late, "Thu 05 11:00", 1),
        (daily, "Fri 06 06:00", 2), (daily, "Sat 07 06:00", 2), (late, "Sat 07 11:00", 1),
        (daily, "Sun 08 06:00", 2), (world["province"], "Sun 08 20:00", 3)]
    assert all(e.linked for e in everything)
    only_b = week_entries(db, actor=prov, unit_id=world["b"], monday=MONDAY, local_tz=TZ)
    assert _shown(only_b) == [(once_b, "Wed 04 17:30", 1), (world["province"], "Sun 08 20:00", 1)]
    assert everything[3].priority == Priority.PRIORITY and everything[3].title == \
        "Tin ưu tiên xã B"


def test_commune_sees_its_own_schedules_and_no_other_commune(
    db: Session, world: dict[str, int],
) -> None:
    op_a = _actor("op_a", world["a"], {world["a"]})
    entries = week_entries(db, actor=op_a, unit_id=world["a"], monday=MONDAY, local_tz=TZ)
    # what plays on A's speakers, including the province's slot (shown, not the commune's own)
    assert {e.schedule_id for e in entries} == {world["daily"], world["late"], world["province"]}
    from_above = [e for e in entries if e.schedule_id == world["province"]]
    assert [(e.devices, e.linked) for e in from_above] == [(2, False)]
    assert all(e.linked for e in entries if e.schedule_id != world["province"])
    assert week_entries(db, actor=op_a, unit_id=None, monday=MONDAY, local_tz=TZ) == entries
    with pytest.raises(NotFound, match=f"unit {world['b']} does not exist"):
        week_entries(db, actor=op_a, unit_id=world["b"], monday=MONDAY, local_tz=TZ)
    grid = build_grid(entries, monday=MONDAY, today=date(2026, 3, 4))
    assert grid.hours == list(range(5, 22))
    assert [e.schedule_id for e in grid.at(date(2026, 3, 5), 11)] == [world["late"]]
    assert grid.at(date(2026, 3, 4), 11) == []  # before the schedule existed
    assert [d.isoformat() for d, _, _ in grid.days][::6] == ["2026-03-02", "2026-03-08"]


def test_side_list_holds_approved_unscheduled_bulletins_of_the_subtree(
    db: Session, world: dict[str, int],
) -> None:
    ready_a = _bulletin(db, "Chờ lập lịch A", world["a"])
    _bulletin(db, "Bản nháp A", world["a"], BulletinStatus.DRAFT)
    ready_b = _bulletin(db, "Chờ lập lịch B", world["b"])
    op_a = _actor("op_a", world["a"], {world["a"]})
    assert [b.id for b in unscheduled_bulletins(db, actor=op_a)] == [ready_a]
    prov = _actor("prov_op", world["p"], {world["p"], world["a"], world["b"]})
    assert [b.id for b in unscheduled_bulletins(db, actor=prov)] == [ready_b, ready_a]
