"""The link between the central center and a province's is cut (a network namespace's link
goes down) for three minutes while both keep working; once it is back, everything converges
exactly once."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from control_center.models import FederationOutbox, FederationReceived
from tests.center.helpers import ok
from tests.federation.conftest import Partitioned, Site, link
from tests.support.waiting import poll

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)
CAPPED_ATTEMPTS = 7  # 0.5 + 1 + 2 + … + 30 s: the sender's backoff has reached its cap
CUT_S = 180.0  # how long the link stays down: the duration is the test's condition


def _rows(site: Site, direction: str) -> list[dict[str, Any]]:
    return list(ok(site.api.get("/api/v1/federation/bulletins",
                                params={"direction": direction}))["items"])


def _pending(site: Site) -> int:
    (peer,) = ok(site.api.get("/api/v1/federation/peers"))["items"]
    return int(peer["pending"])


def _send(site: Site, peer_id: int, title: str, priority: str = "normal",
          slot: dict[str, str] | None = None) -> None:
    bulletin = ok(site.api.post("/api/v1/bulletins", json={
        "title": title, "kind": "text", "priority": priority,
        "text": f"{title}: thông báo của trung ương gửi các tỉnh."}))
    ok(site.api.post("/api/v1/federation/bulletins", json={
        "bulletin_id": bulletin["id"], "peer_ids": [peer_id], "slot": slot}), 201)


def _attempts(site: Site) -> int:
    with site.center.center.read_sessions() as session:
        return session.scalar(select(func.max(FederationOutbox.attempts)).where(
            FederationOutbox.delivered_at.is_(None))) or 0


def test_a_cut_link_converges_exactly_once(partitioned: Partitioned) -> None:
    central, province, ns = partitioned.central, partitioned.province, partitioned.ns
    fed = link(central, province, province_url=partitioned.province_via,
               central_url=partitioned.central_via)
    peer_id = fed.peer_at_central["id"]
    _send(central, peer_id, "Trước khi mất kết nối")
    (before,) = poll(lambda: _rows(province, "in"), lambda rows: len(rows) == 1, 30,
                     "the first bulletin at the province")
    poll(lambda: _rows(central, "out"), lambda rows: rows[0]["state"] == "inbox", 30,
         "the province's report that it waits in its inbox")

    ns.cut()
    cut_at = time.monotonic()
    slot = {"start_at": (datetime.now(UTC) + timedelta(hours=2)).replace(
        microsecond=0).isoformat()}
    for n in range(3):
        _send(central, peer_id, f"Trong lúc mất kết nối {n + 1}")
    _send(central, peer_id, "Tin ưu tiên", priority="priority", slot=slot)
    # the province keeps working alone: it declines the first one; its report waits
    ok(province.api.post(f"/api/v1/federation/bulletins/{before['id']}/decline",
                         json={"note": "trùng nội dung đã phát"}), 200)
    poll(lambda: _attempts(central), lambda n: n >= CAPPED_ATTEMPTS, 180,
         "the central center's retries to reach their longest backoff")
    _send(central, peer_id, "Trong lúc mất kết nối 4")  # queued behind the longest backoff
    poll(lambda: time.monotonic() - cut_at, lambda s: s >= CUT_S, CUT_S + 10,
         f"the link down for {CUT_S:.0f} s")
    assert _pending(central) == 5 and _pending(province) == 1
    assert len(_rows(province, "in")) == 1  # nothing crossed
    ns.restore()
    cut_s = time.monotonic() - cut_at
    back_at = time.monotonic()
    poll(lambda: (_pending(central), _pending(province)), lambda p: p == (0, 0), 90,
         "both outboxes emptied after the link came back")
    converged_s = time.monotonic() - back_at
    log.info("link cut %.0f s; converged %.1f s after it came back", cut_s, converged_s)

    received = _rows(province, "in")
    assert len(received) == 6 and len({r["remote_ref"] for r in received}) == 6
    assert sorted(r["state"] for r in received) == [
        "declined", "inbox", "inbox", "inbox", "inbox", "scheduled"]
    sent = poll(lambda: _rows(central, "out"),
                lambda rows: sorted(r["state"] for r in rows) == [
                    "declined", "inbox", "inbox", "inbox", "inbox", "scheduled"], 30,
                "every state reported back to the central center")
    assert {r["remote_ref"] for r in sent} == {r["remote_ref"] for r in received}
    # applied once each: six bulletins at the province; at the central center seven states
    # (each bulletin's first state, and the decline)
    for site, expected in ((province, 6), (central, 7)):
        with site.center.center.read_sessions() as session:
            assert session.scalar(select(func.count()).select_from(FederationReceived)) \
                == expected

    # a message delivered again (its acknowledgement lost) is acknowledged, not applied twice
    with central.center.center.read_sessions() as session:
        envelope = session.scalar(select(FederationOutbox.envelope).order_by(
            FederationOutbox.id).limit(1))
    replay = httpx.post(f"{province.center.base_url}/api/v1/federation/messages",
                        json={"messages": [envelope]}, timeout=10)
    assert replay.status_code == 200, replay.text
    assert [r["outcome"] for r in replay.json()["receipts"]] == ["duplicate"]
    assert len(_rows(province, "in")) == 6
