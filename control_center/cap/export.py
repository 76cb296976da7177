"""CAP 1.2 out: the center's emergency and priority bulletins, approved within the last days,
as one CAP document each and an Atom feed listing them (docs/cap.md). Nothing personal is in
them: titles, texts and the names and codes of the units they reach.

A bulletin's alert keeps one identifier (``<sender>.bulletin.<id>``, sent = its approval); a
bulletin whose every schedule was cancelled is published as a ``Cancel`` of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.cap.document import CAP_NS
from control_center.errors import NotFound
from control_center.models import (
    AdminUnit,
    BroadcastKind,
    Bulletin,
    Device,
    EmergencyBroadcast,
    EmergencyUnit,
    Schedule,
    ScheduleTarget,
)
from protocol.base import Priority

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_MAX = 200
PUBLISHED = (Priority.EMERGENCY, Priority.PRIORITY)
# priority -> (urgency, severity, certainty), the inverse of cap.mapping.priority_of
GRADES = {Priority.EMERGENCY: ("Immediate", "Extreme", "Observed"),
          Priority.PRIORITY: ("Expected", "Severe", "Likely")}


@dataclass(frozen=True, slots=True)
class Publisher:
    """Who the center is in CAP: its ``<sender>``, the public URL of its routes, its zone."""

    sender: str
    base_url: str
    timezone: str

    def identifier(self, bulletin_id: int) -> str:
        return f"{self.sender}.bulletin.{bulletin_id}"

    def stamp(self, at: datetime) -> str:
        """A CAP time: seconds, with the zone's offset (CAP allows no Z)."""
        return at.astimezone(ZoneInfo(self.timezone)).replace(microsecond=0).isoformat()

    def url(self, bulletin_id: int) -> str:
        return f"{self.base_url}/cap/alerts/{bulletin_id}.xml"


def published(session: Session, *, now: datetime, days: int) -> list[Bulletin]:
    """Emergency and priority bulletins approved once and changed in the last ``days``."""
    return list(session.scalars(
        select(Bulletin).where(Bulletin.priority.in_(PUBLISHED),
                               Bulletin.approved_at.is_not(None),
                               Bulletin.updated_at >= now - timedelta(days=days))
        .order_by(Bulletin.updated_at.desc(), Bulletin.id.desc()).limit(FEED_MAX)))


def published_bulletin(session: Session, *, bulletin_id: int) -> Bulletin:
    bulletin = session.get(Bulletin, bulletin_id)
    if bulletin is None or bulletin.priority not in PUBLISHED or bulletin.approved_at is None:
        raise NotFound(f"no CAP alert for bulletin {bulletin_id}: only approved emergency and "
                       "priority bulletins are published")
    return bulletin


def _units(session: Session, bulletin: Bulletin) -> tuple[list[AdminUnit], bool]:
    """The units the bulletin reaches, and whether it was cancelled (every schedule)."""
    if bulletin.priority == Priority.EMERGENCY:
        ids = list(session.scalars(
            select(EmergencyUnit.unit_id).join(EmergencyBroadcast).where(
                EmergencyBroadcast.bulletin_id == bulletin.id,
                EmergencyBroadcast.kind == BroadcastKind.SEND)))
        cancelled = False
    else:
        rows = list(session.execute(
            select(ScheduleTarget.unit_id, ScheduleTarget.device_id, Schedule.cancelled_at)
            .join(Schedule).where(Schedule.bulletin_id == bulletin.id)))
        devices = [d for _, d, _ in rows if d]
        ids = [u for u, _, _ in rows if u] + list(session.scalars(
            select(Device.unit_id).where(Device.id.in_(devices))))
        cancelled = bool(rows) and all(at is not None for _, _, at in rows)
    ids = list(dict.fromkeys(ids)) or ([bulletin.unit_id] if bulletin.unit_id else [])
    units = {u.id: u for u in session.scalars(select(AdminUnit).where(AdminUnit.id.in_(ids)))}
    return [units[i] for i in ids if i in units], cancelled


def _sub(parent: etree._Element, tag: str, text: str, ns: str = CAP_NS) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    element.text = text
    return element


def alert_element(session: Session, *, bulletin: Bulletin,
                  publisher: Publisher) -> etree._Element:
    """The bulletin as a CAP 1.2 ``<alert>`` (an Alert, or a Cancel once cancelled)."""
    units, cancelled = _units(session, bulletin)
    assert bulletin.approved_at is not None
    owner = session.get(AdminUnit, bulletin.unit_id) if bulletin.unit_id else None
    identifier, sent = publisher.identifier(bulletin.id), publisher.stamp(bulletin.approved_at)
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _sub(root, "identifier", identifier + (".cancel" if cancelled else ""))
    _sub(root, "sender", publisher.sender)
    _sub(root, "sent", publisher.stamp(bulletin.updated_at) if cancelled else sent)
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Cancel" if cancelled else "Alert")
    _sub(root, "scope", "Public")
    if cancelled:
        _sub(root, "references", f"{publisher.sender},{identifier},{sent}")
    info = _sub(root, "info", "")
    info.text = None
    urgency, severity, certainty = GRADES[bulletin.priority]
    for tag, text in (("language", "vi-VN"), ("category", "Other"),
                      ("event", bulletin.category or "Thông tin cơ sở"), ("urgency", urgency),
                      ("severity", severity), ("certainty", certainty)):
        _sub(info, tag, text)
    expires = session.scalar(select(EmergencyBroadcast.expires_at).where(
        EmergencyBroadcast.bulletin_id == bulletin.id, EmergencyBroadcast.kind ==
        BroadcastKind.SEND).order_by(EmergencyBroadcast.id.desc()).limit(1))
    if expires is not None:
        _sub(info, "expires", publisher.stamp(expires))
    _sub(info, "senderName", owner.name if owner else publisher.sender)
    _sub(info, "headline", bulletin.title)
    _sub(info, "description", bulletin.text or bulletin.title)
    _sub(info, "web", publisher.url(bulletin.id))
    if units:
        area = etree.SubElement(info, f"{{{CAP_NS}}}area")
        _sub(area, "areaDesc", ", ".join(u.name for u in units))
        for unit in units:
            geocode = etree.SubElement(area, f"{{{CAP_NS}}}geocode")
            _sub(geocode, "valueName", "unit_code")
            _sub(geocode, "value", unit.code)
    return root


def alert_document(session: Session, *, bulletin_id: int, publisher: Publisher) -> bytes:
    bulletin = published_bulletin(session, bulletin_id=bulletin_id)
    return _bytes(alert_element(session, bulletin=bulletin, publisher=publisher))


def feed(session: Session, *, publisher: Publisher, now: datetime, days: int) -> bytes:
    """An Atom feed with one entry per published bulletin, linking its CAP document."""
    rows = published(session, now=now, days=days)
    root = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _sub(root, "id", f"{publisher.base_url}/cap/feed.atom", ATOM_NS)
    _sub(root, "title", "Cảnh báo khẩn cấp và ưu tiên / emergency and priority alerts",
         ATOM_NS)
    _sub(root, "updated", publisher.stamp(rows[0].updated_at if rows else now), ATOM_NS)
    author = etree.SubElement(root, f"{{{ATOM_NS}}}author")
    _sub(author, "name", publisher.sender, ATOM_NS)
    etree.SubElement(root, f"{{{ATOM_NS}}}link", rel="self",
                     href=f"{publisher.base_url}/cap/feed.atom")
    for bulletin in rows:
        entry = etree.SubElement(root, f"{{{ATOM_NS}}}entry")
        _sub(entry, "id", publisher.url(bulletin.id), ATOM_NS)
        _sub(entry, "title", bulletin.title, ATOM_NS)
        _sub(entry, "updated", publisher.stamp(bulletin.updated_at), ATOM_NS)
        _sub(entry, "summary", f"{bulletin.priority.value}: {bulletin.title}", ATOM_NS)
        etree.SubElement(entry, f"{{{ATOM_NS}}}link", rel="alternate",
                         type="application/cap+xml", href=publisher.url(bulletin.id))
    return _bytes(root)


def _bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
