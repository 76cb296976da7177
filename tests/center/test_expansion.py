"""Expansion of one-off and recurring schedules into UTC instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from control_center.errors import InvalidInput
from control_center.services.expansion import (
    GRACE,
    Recurrence,
    expand_recurring,
    item_id,
    next_recurring,
    require_aware,
    schedule_id_of,
)

HCM = "Asia/Ho_Chi_Minh"
TWICE_DAILY = "FREQ=DAILY;BYHOUR=6,17;BYMINUTE=0;BYSECOND=0"


def _rec(rule: str = TWICE_DAILY, *, tz: str = HCM, until: datetime | None = None) -> Recurrence:
    return Recurrence(rule, datetime(2026, 9, 1, tzinfo=UTC), until, tz)


def test_twice_daily_local_is_23_and_10_utc() -> None:
    now = datetime(2026, 9, 2, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
    got = expand_recurring(_rec(), window_start=now - GRACE, window_end=now + timedelta(hours=48))
    assert got == [
        datetime(2026, 9, 2, 10, 0, tzinfo=UTC),  # 17:00 local, 2 Sep
        datetime(2026, 9, 2, 23, 0, tzinfo=UTC),  # 06:00 local, 3 Sep
        datetime(2026, 9, 3, 10, 0, tzinfo=UTC),
        datetime(2026, 9, 3, 23, 0, tzinfo=UTC),
    ]
    assert all(i.tzinfo is UTC for i in got)


def test_ho_chi_minh_has_no_dst_offset_is_constant_all_year() -> None:
    rec = Recurrence("FREQ=WEEKLY;BYHOUR=6;BYMINUTE=30", datetime(2026, 1, 1, tzinfo=UTC), None,
                     HCM)
    got = next_recurring(rec, after=datetime(2026, 1, 1, tzinfo=UTC), count=53)
    assert len(got) == 53
    assert {(i.hour, i.minute) for i in got} == {(23, 30)}


def test_dst_zone_keeps_local_wall_time() -> None:
    rec = Recurrence("FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0",
                     datetime(2026, 3, 27, tzinfo=UTC), None, "Europe/Paris")
    got = next_recurring(rec, after=datetime(2026, 3, 27, tzinfo=UTC), count=4)
    # Europe/Paris leaves CET (+1) for CEST (+2) on 29 March 2026.
    assert [i.hour for i in got] == [5, 5, 4, 4]


def test_window_is_clipped_by_valid_from_and_valid_until() -> None:
    until = datetime(2026, 9, 2, 12, 0, tzinfo=UTC)
    rec = _rec(until=until)
    start = datetime(2026, 8, 1, tzinfo=UTC)
    got = expand_recurring(rec, window_start=start, window_end=start + timedelta(days=60))
    assert got[0] == datetime(2026, 9, 1, 10, 0, tzinfo=UTC)  # first 17:00 local after valid_from
    assert got[-1] == datetime(2026, 9, 2, 10, 0, tzinfo=UTC)
    assert len(got) == 3


def test_grace_keeps_an_item_that_just_started() -> None:
    now = datetime(2026, 9, 2, 10, 5, tzinfo=UTC)
    got = expand_recurring(_rec(), window_start=now - GRACE, window_end=now + timedelta(hours=1))
    assert got == [datetime(2026, 9, 2, 10, 0, tzinfo=UTC)]


def test_expansion_is_capped() -> None:
    rec = _rec("FREQ=MINUTELY")
    start = datetime(2026, 9, 2, tzinfo=UTC)
    got = expand_recurring(rec, window_start=start, window_end=start + timedelta(days=2), limit=50)
    assert len(got) == 50


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("FREQ=FORTNIGHTLY", "invalid 'FREQ'"),
        ("FREQ=DAILY;BYHOUR=25", "hour must be in 0..23"),
        ("DTSTART:20260901T000000Z\nRRULE:FREQ=DAILY", "valid_from"),
        ("", "give one RRULE line"),
    ],
)
def test_unparseable_rules_are_refused_with_the_parser_message(rule: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match="invalid rrule") as info:
        expand_recurring(_rec(rule), window_start=datetime(2026, 9, 1, tzinfo=UTC),
                         window_end=datetime(2026, 9, 3, tzinfo=UTC))
    assert fragment in str(info.value)


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown time zone 'Mars/Olympus'"):
        next_recurring(_rec(tz="Mars/Olympus"), after=datetime(2026, 9, 1, tzinfo=UTC), count=1)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInput, match="must carry a time zone"):
        require_aware(datetime(2026, 9, 1, 6, 0), "start_at")
    local = datetime(2026, 9, 1, 6, 0, tzinfo=timezone(timedelta(hours=7)))
    assert require_aware(local, "start_at") == datetime(2026, 8, 31, 23, 0, tzinfo=UTC)


def test_item_id_names_schedule_revision_and_utc_instant() -> None:
    instant = datetime(2026, 9, 3, 6, 0, tzinfo=timezone(timedelta(hours=7)))
    assert item_id(schedule_id=12, revision=3, instant=instant) == "s12r3-20260902T230000Z"


def test_schedule_id_of_reads_back_the_item_id() -> None:
    instant = datetime(2026, 9, 3, 6, 0, tzinfo=UTC)
    assert schedule_id_of(item_id(schedule_id=12, revision=3, instant=instant)) == 12
    assert schedule_id_of("c-0123456789abcdef") is None  # a play-now command's item
    assert schedule_id_of("e-0123456789abcdef0123") is None  # an emergency's item
