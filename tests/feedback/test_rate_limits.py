"""Floods: the kiosk refuses beyond its hourly limit; the center flags beyond its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from control_center.db import create_db_engine, session_factory, upgrade_database
from control_center.feedback import service
from control_center.models import AdminUnit, Device, Feedback
from edge_agent.clock import SystemClock
from edge_agent.kiosk import FeedbackDesk, RateLimited
from edge_agent.outbox import Outbox
from edge_agent.store import LocalStore
from protocol.events import DeviceKind
from protocol.feedback import FeedbackChannel, FeedbackSubmitted
from tests.support.databases import Backend, Databases

T0 = datetime(2026, 9, 2, 8, 0, tzinfo=UTC)


def test_kiosk_refuses_beyond_its_hourly_limit_and_keeps_audio_only_with_consent(
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path / "agent.sqlite3")
    desk = FeedbackDesk(device_id="kiosk-r", data_dir=tmp_path / "kiosk",
                        outbox=Outbox(store, window=5), clock=SystemClock(), max_per_hour=3)
    pcm = b"\x01\x00" * 1600
    kept = desk.submit(category="road", text="a", channel=FeedbackChannel.VOICE, phone=None,
                       contact_consent=False, audio=pcm, audio_consent=True)
    dropped = desk.submit(category="road", text="b", channel=FeedbackChannel.VOICE,
                          phone="0912", contact_consent=False, audio=pcm, audio_consent=False)
    desk.submit(category="road", text="c", channel=FeedbackChannel.TOUCH, phone=None,
                contact_consent=False)
    with pytest.raises(RateLimited):
        desk.submit(category="road", text="d", channel=FeedbackChannel.TOUCH, phone=None,
                    contact_consent=False)
    assert store.outbox_count() == 3  # stored for sending (offline: nothing connected)
    first, second = desk.find(kept), desk.find(dropped)
    assert first is not None and first.recording is not None
    assert Path(first.recording).stat().st_size > len(pcm)
    assert second is not None and second.recording is None
    assert sorted(p.name for p in (tmp_path / "kiosk" / "recordings").iterdir()) == [
        f"{kept}.wav"]
    assert desk.prune_recordings(older_than_s=3600) == 0  # kept within its days
    assert desk.prune_recordings(older_than_s=-1) == 1  # past them: deleted
    pruned = desk.find(kept)
    assert pruned is not None and pruned.recording is None and pruned.text == "a"
    assert list((tmp_path / "kiosk" / "recordings").iterdir()) == []
    desk.close()
    store.close()


def test_center_flags_submissions_beyond_the_kiosk_rate_limit(
    tmp_path: Path, databases: Databases, db_backend: Backend
) -> None:
    engine = create_db_engine(databases.url_for(tmp_path, db_backend))
    upgrade_database(engine)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        unit = AdminUnit(code="xa-r", name="Xã R", level="commune", created_at=T0)
        s.add(unit)
        s.flush()
        s.add(Device(id="kiosk-r", name="K", kind=DeviceKind.KIOSK, unit_id=unit.id,
                     mqtt_password_hash="x", created_at=T0))
    for n in range(service.RATE_LIMIT + 1):
        with sessions.begin() as s:
            device = s.get(Device, "kiosk-r")
            assert device is not None
            event = FeedbackSubmitted(event_id=uuid.uuid4().hex, device_id="kiosk-r", at=T0,
                                      ref_code=f"R{n:05d}", category="road", text=f"spam {n}")
            service.record_submission(s, event=event, device=device,
                                      now=T0 + timedelta(seconds=n))
    with sessions() as s:
        rows = list(s.scalars(select(Feedback).order_by(Feedback.id)))
        assert [r.flagged is not None for r in rows] == [False] * service.RATE_LIMIT + [True]
        queue = service.list_feedback(s, scope_unit_id=rows[0].unit_id)
        assert len(queue) == service.RATE_LIMIT  # flagged ones stay out of the queue
        assert len(service.list_feedback(s, scope_unit_id=rows[0].unit_id,
                                         include_flagged=True)) == service.RATE_LIMIT + 1
    engine.dispose()
