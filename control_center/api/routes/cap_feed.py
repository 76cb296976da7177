"""CAP 1.2 out, public (as alert aggregators serve it): ``/cap/feed.atom`` lists the approved
emergency and priority bulletins of the last ``TT_CAP_FEED_DAYS`` days, each a CAP document at
``/cap/alerts/{bulletin_id}.xml`` (docs/cap.md). No personal data is in them."""

from __future__ import annotations

from fastapi import APIRouter, Response

from control_center.api.deps import CenterDep, NowDep, SessionDep
from control_center.cap import export

router = APIRouter(prefix="/cap", tags=["cap"])


def _publisher(center: CenterDep) -> export.Publisher:
    settings = center.settings
    return export.Publisher(sender=settings.cap_sender, base_url=settings.public_base_url,
                            timezone=settings.timezone)


@router.get("/feed.atom", response_class=Response,
            responses={200: {"content": {"application/atom+xml": {}}}})
def cap_feed(session: SessionDep, center: CenterDep, now: NowDep) -> Response:
    body = export.feed(session, publisher=_publisher(center), now=now,
                       days=center.settings.cap_feed_days)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/alerts/{bulletin_id}.xml", response_class=Response,
            responses={200: {"content": {"application/cap+xml": {}}}})
def cap_alert(bulletin_id: int, session: SessionDep, center: CenterDep) -> Response:
    body = export.alert_document(session, bulletin_id=bulletin_id,
                                 publisher=_publisher(center))
    return Response(body, media_type="application/cap+xml; charset=utf-8")
