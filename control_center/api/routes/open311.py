"""Open311 GeoReport v2: service list, service definition, create request, request status.

Paths follow the specification under ``/api/v1/open311``: ``services.json``,
``services/{code}.json``, ``requests.json`` (POST, form-encoded) and ``requests/{id}.json``;
each also answers as ``.xml``. ``jurisdiction_id`` is an administrative unit's code; the
``service_request_id`` is the citizen's reference code. Creating a request needs ``api_key``
(the center's API token for now; per-client keys come with sign-in).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from control_center.api.deps import CenterDep, SessionDep
from control_center.errors import CenterError
from control_center.feedback import service
from control_center.models import AdminUnit, Feedback, FeedbackCategoryRow, FeedbackStatus
from control_center.security import token_matches

router = APIRouter(prefix="/open311", tags=["open311"])
Value = str | float | bool | None
Row = dict[str, Value]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _render(fmt: str, root: str, item: str, rows: list[Row], status: int = 200) -> Response:
    if fmt == "xml":
        top = ET.Element(root)
        for row in rows:
            element = ET.SubElement(top, item)
            for key, value in row.items():
                ET.SubElement(element, key).text = (
                    "" if value is None else str(value).lower() if isinstance(value, bool)
                    else str(value))
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
        return Response(body, status_code=status, media_type="text/xml; charset=utf-8")
    if fmt != "json":
        return _error("json", 404, f"unknown format {fmt!r}: use .json or .xml")
    return JSONResponse(rows, status_code=status)


def _error(fmt: str, code: int, description: str) -> Response:
    return _render(fmt if fmt in ("json", "xml") else "json", "errors", "error",
                   [{"code": code, "description": description}], status=code)


def _service(row: FeedbackCategoryRow) -> Row:
    return {"service_code": row.code, "service_name": row.name_vi,
            "description": row.name_en or row.name_vi, "metadata": False, "type": "realtime",
            "keywords": "", "group": "feedback"}


def _request(row: Feedback, category: FeedbackCategoryRow | None, agency: str) -> Row:
    closed = row.status in (FeedbackStatus.ANSWERED, FeedbackStatus.CLOSED)
    return {
        "service_request_id": row.ref_code, "status": "closed" if closed else "open",
        "status_notes": row.answer, "service_name": category.name_vi if category else None,
        "service_code": row.category, "description": row.text,
        "agency_responsible": agency, "service_notice": None,
        "requested_datetime": _iso(row.received_at), "updated_datetime": _iso(row.updated_at),
        "expected_datetime": _iso(row.due_at), "address": row.address, "address_id": None,
        "zipcode": None, "lat": row.lat, "long": row.lon, "media_url": None,
    }


@router.get("/services.{fmt}")
def services(fmt: str, session: SessionDep) -> Response:
    rows = [_service(c) for c in service.list_categories(session)]
    return _render(fmt, "services", "service", rows)


@router.get("/services/{code}.{fmt}")
def service_definition(code: str, fmt: str, session: SessionDep) -> Response:
    if session.get(FeedbackCategoryRow, code) is None:
        return _error(fmt, 404, f"unknown service_code {code!r}")
    if fmt == "xml":
        top = ET.Element("service_definition")
        ET.SubElement(top, "service_code").text = code
        ET.SubElement(top, "attributes")
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
        return Response(body, media_type="text/xml; charset=utf-8")
    return JSONResponse({"service_code": code, "attributes": []})


@router.post("/requests.{fmt}")
def create_request(
    fmt: str, session: SessionDep, center: CenterDep,
    service_code: Annotated[str, Form()], description: Annotated[str, Form()] = "",
    jurisdiction_id: Annotated[str, Form()] = "", api_key: Annotated[str, Form()] = "",
    lat: Annotated[float | None, Form()] = None, long: Annotated[float | None, Form()] = None,
    address_string: Annotated[str | None, Form()] = None,
    phone: Annotated[str | None, Form()] = None,
) -> Response:
    if not api_key or not token_matches(api_key, center.settings.api_token):
        return _error(fmt, 403, "api_key missing or not valid")
    unit_id = session.scalar(select(AdminUnit.id).where(AdminUnit.code == jurisdiction_id))
    if unit_id is None:
        return _error(fmt, 400, f"jurisdiction_id {jurisdiction_id!r} is not a unit code")
    if not description.strip():
        return _error(fmt, 400, "description is required")
    if (lat is None or long is None) and not (address_string or "").strip():
        return _error(fmt, 400, "a location is required: lat and long, or address_string")
    try:
        row = service.create_request(
            session, unit_id=unit_id, category=service_code, text=description.strip()[:4000],
            channel="open311", phone=(phone or None), lat=lat, lon=long,
            address=(address_string or None), now=center.clock(),
        )
    except CenterError as exc:
        return _error(fmt, 400, str(exc))
    return _render(fmt, "service_requests", "request",
                   [{"service_request_id": row.ref_code, "service_notice": None,
                     "account_id": None}], status=201)


@router.get("/requests/{ref_code}.{fmt}")
def request_status(ref_code: str, fmt: str, session: SessionDep) -> Response:
    row = session.scalar(select(Feedback).where(Feedback.ref_code == ref_code))
    if row is None:
        return _error(fmt, 404, f"no service request {ref_code!r}")
    unit = session.get(AdminUnit, row.unit_id)
    return _render(fmt, "service_requests", "request",
                   [_request(row, session.get(FeedbackCategoryRow, row.category),
                             unit.name if unit else "")])
