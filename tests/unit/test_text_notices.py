"""Text notices' display windows: the center's ends_at and what a kiosk's screen shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from control_center.errors import InvalidInput
from control_center.models import Bulletin, BulletinKind, Schedule, ScheduleKind
from control_center.services.expansion import GRACE
from control_center.services.manifests import schedule_instants
from control_center.services.text_bulletins import check_display, display_end, display_keep
from edge_agent.kiosk.notices import current_notices
from protocol.manifest import AudioContent, PlayItem, TextContent

T0 = datetime(2026, 9, 2, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội
LATE = timedelta(minutes=15)


def notice(item_id: str, bulletin_id: int, start: datetime, ends_at: datetime | None,
           ) -> PlayItem:
    return PlayItem(item_id=item_id, bulletin_id=bulletin_id, title="t", start_at=start,
                    content=TextContent(text="Họp dân", ends_at=ends_at))


@pytest.mark.parametrize(("minutes", "until", "start", "end"), [
    (None, None, T0, datetime(2026, 9, 2, 17, 0, tzinfo=UTC)),  # midnight local
    (90, None, T0, T0 + timedelta(minutes=90)),
    (None, "17:30", T0, datetime(2026, 9, 2, 10, 30, tzinfo=UTC)),
    (None, "07:00", T0, datetime(2026, 9, 3, 0, 0, tzinfo=UTC)),  # already past: next day
    (None, None, datetime(2026, 9, 2, 16, 59, tzinfo=UTC), datetime(2026, 9, 2, 17, 0,
                                                                    tzinfo=UTC)),
    (None, None, datetime(2026, 9, 2, 17, 0, tzinfo=UTC), datetime(2026, 9, 3, 17, 0,
                                                                   tzinfo=UTC)),
])
def test_an_occurrence_s_display_end(minutes: int | None, until: str | None, start: datetime,
                                     end: datetime) -> None:
    assert display_end(start, shown_minutes=minutes, shown_until=until) == end


def test_a_display_window_is_one_form_and_only_for_text() -> None:
    check_display(kind=BulletinKind.TEXT, shown_minutes=30, shown_until=None)
    with pytest.raises(InvalidInput, match="not both"):
        check_display(kind=BulletinKind.TEXT, shown_minutes=30, shown_until="17:00")
    with pytest.raises(InvalidInput, match="text bulletins"):
        check_display(kind=BulletinKind.AUDIO, shown_minutes=None, shown_until="17:00")


def test_a_kiosk_shows_a_notice_only_inside_its_window_one_occurrence_at_a_time() -> None:
    today = notice("a1", 1, T0, T0 + timedelta(hours=8))
    tomorrow = notice("a2", 1, T0 + timedelta(days=1), T0 + timedelta(days=1, hours=8))
    overlap = notice("a0", 1, T0 - timedelta(hours=1), T0 + timedelta(hours=8))
    old_center = notice("b", 2, T0, None)  # no ends_at: until the lateness limit
    audio = PlayItem(item_id="c", bulletin_id=3, title="t", start_at=T0, content=AudioContent(
        sha256="a" * 64, url="http://x/a", size=1, duration_ms=1))
    items = [today, tomorrow, overlap, old_center, audio]

    def shown(at: datetime) -> list[str]:
        return [i.item_id for i in current_notices(items, now=at, lateness=LATE)]

    assert shown(T0 - timedelta(minutes=61)) == []  # not before it is due
    assert shown(T0 - timedelta(minutes=1)) == ["a0"]
    assert shown(T0) == ["b", "a1"]  # the latest occurrence of bulletin 1, once
    assert shown(T0 + LATE) == ["a1"]
    assert shown(T0 + timedelta(hours=8)) == []  # the window is over
    assert shown(T0 + timedelta(days=1)) == ["a2"]


def test_a_text_notice_stays_in_manifests_while_a_kiosk_may_still_show_it() -> None:
    """Manifests keep an occurrence ``display_keep`` after its instant (the sync passes it as
    ``keep``), not the ten minutes of other items: a notice shown until the evening must not
    leave the kiosk's manifest, and so its screen, ten minutes after it appeared."""
    notice_all_day = Bulletin(kind=BulletinKind.TEXT, shown_minutes=None, shown_until=None)
    notice_half_hour = Bulletin(kind=BulletinKind.TEXT, shown_minutes=30, shown_until=None)
    assert display_keep(notice_all_day) == timedelta(days=1)
    assert display_keep(notice_half_hour) == timedelta(minutes=30)
    once = Schedule(kind=ScheduleKind.ONE_OFF, start_at=T0)
    later = T0 + timedelta(hours=3)
    horizon = timedelta(days=2)
    assert schedule_instants(once, now=later, horizon=horizon,
                             keep=display_keep(notice_all_day)) == [T0]
    assert schedule_instants(once, now=later, horizon=horizon,
                             keep=max(GRACE, display_keep(notice_half_hour))) == []
    assert schedule_instants(once, now=later, horizon=horizon) == []  # any other item: GRACE
