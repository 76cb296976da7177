"""Open311 GeoReport v2: service list, service definition, create request, request status.

Paths follow the specification under ``/api/v1/open311``: ``services.json``,
``services/{code}.json``, ``requests.json`` (POST, form-encoded) and ``requests/{id}.json``;
each also answers as ``.xml``. ``jurisdiction_id`` is an administrative unit's code; the
``service_request_id`` is the citizen's reference code. Creating a request needs ``api_key``,
a live client key (``/open311/clients``, made by administrators) whose unit subtree holds the
jurisdiction; each key and each address are rate-limited (``feedback.throttle``, 429 with
``Retry-After``). Public answers carry no position (no lat/long, no address).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from control_center.api.deps import ActorDep, NowDep, SessionDep, client_ip
from control_center.errors import CenterError
from control_center.feedback import categories, open311_clients, service
from control_center.feedback.schemas import ClientCreate, ClientCreated, ClientPublic
from control_center.feedback.throttle import TokenBuckets, limits_of, retry_after
from control_center.models import AdminUnit, Feedback, FeedbackCategoryRow, FeedbackStatus
from control_center.schemas.common import ItemList

router = APIRouter(prefix="/open311", tags=["open311"])
Value = str | float | bool | None
Row = dict[str, Value]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _render(fmt: str, root: str, item: str, rows: list[Row], status: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    if fmt == "xml":
        top = ET.Element(root)
        for row in rows:
            element = ET.SubElement(top, item)
            for key, value in row.items():
                ET.SubElement(element, key).text = (
                    "" if value is None else str(value).lower() if isinstance(value, bool)
                    else str(value))
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
        return Response(body, status_code=status, media_type="text/xml; charset=utf-8",
                        headers=headers)
    if fmt != "json":
        return _error("json", 404, f"unknown format {fmt!r}: use .json or .xml")
    return JSONResponse(rows, status_code=status, headers=headers)


def _error(fmt: str, code: int, description: str,
           headers: dict[str, str] | None = None) -> Response:
    return _render(fmt if fmt in ("json", "xml") else "json", "errors", "error",
                   [{"code": code, "description": description}], status=code, headers=headers)


def _throttled(fmt: str, buckets: TokenBuckets, key: str, now: datetime,
               who: str) -> Response | None:
    """A 429 with ``Retry-After`` when ``key``'s bucket is empty, else None."""
    wait = buckets.take(key, now)
    if wait == 0:
        return None
    rate = buckets.rate
    return _error(fmt, 429, f"too many requests from {who}: at most {rate.burst} at once, then "
                  f"{rate.per_minute:g} a minute; retry in {retry_after(wait)} s",
                  headers={"Retry-After": retry_after(wait)})


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
        "expected_datetime": _iso(row.due_at), "address": None, "address_id": None,
        "zipcode": None, "lat": None, "long": None, "media_url": None,
    }  # no position: a public lookup must not locate the person who reported


@router.get("/services.{fmt}")
def services(fmt: str, session: SessionDep) -> Response:
    rows = [_service(c) for c in categories.list_categories(session)]
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
    fmt: str, request: Request, session: SessionDep, now: NowDep,
    service_code: Annotated[str, Form()], description: Annotated[str, Form()] = "",
    jurisdiction_id: Annotated[str, Form()] = "", api_key: Annotated[str, Form()] = "",
    lat: Annotated[float | None, Form()] = None, long: Annotated[float | None, Form()] = None,
    address_string: Annotated[str | None, Form()] = None,
    phone: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        client = open311_clients.authenticate(session, key=api_key, now=now)
    except CenterError as exc:
        return _error(fmt, exc.status_code, str(exc))
    limited = _throttled(fmt, limits_of(request.app.state).clients, str(client.id), now,
                         "this api_key")
    if limited is not None:
        return limited
    unit_id = session.scalar(select(AdminUnit.id).where(AdminUnit.code == jurisdiction_id))
    if unit_id is None:
        return _error(fmt, 400, f"jurisdiction_id {jurisdiction_id!r} is not a unit code")
    if not description.strip():
        return _error(fmt, 400, "description is required")
    if (lat is None or long is None) and not (address_string or "").strip():
        return _error(fmt, 400, "a location is required: lat and long, or address_string")
    try:
        row = service.create_request(
            session, client=client, unit_id=unit_id, category=service_code,
            text=description.strip()[:4000], phone=(phone or None), lat=lat, lon=long,
            address=(address_string or None), now=now,
        )
    except CenterError as exc:
        return _error(fmt, 403 if exc.status_code == 403 else 400, str(exc))
    return _render(fmt, "service_requests", "request",
                   [{"service_request_id": row.ref_code, "service_notice": None,
                     "account_id": None}], status=201)


@router.get("/requests/{ref_code}.{fmt}")
def request_status(ref_code: str, fmt: str, request: Request, session: SessionDep,
                   now: NowDep) -> Response:
    limited = _throttled(fmt, limits_of(request.app.state).lookups,
                         client_ip(request) or "unknown", now, "this address")
    if limited is not None:
        return limited
    try:
        row = service.by_ref_code(session, ref_code=ref_code)
    except CenterError:
        return _error(fmt, 404, f"no service request {ref_code!r}")
    unit = session.get(AdminUnit, row.unit_id)
    return _render(fmt, "service_requests", "request",
                   [_request(row, session.get(FeedbackCategoryRow, row.category),
                             unit.name if unit else "")])


# -- client keys (administrators, for their subtree) ------------------------------------------

@router.post("/clients", response_model=ClientCreated, status_code=201)
def create_client(data: ClientCreate, session: SessionDep, actor: ActorDep,
                  now: NowDep) -> ClientCreated:
    """A client key for a unit of the caller's subtree; ``api_key`` is shown only here."""
    row, key = open311_clients.create_client(session, name=data.name, unit_id=data.unit_id,
                                             actor=actor, now=now)
    return ClientCreated.model_validate({**ClientPublic.model_validate(row).model_dump(),
                                         "api_key": key})


@router.get("/clients", response_model=ItemList[ClientPublic])
def list_clients(session: SessionDep, actor: ActorDep) -> ItemList[ClientPublic]:
    rows = open311_clients.list_clients(session, actor=actor)
    return ItemList.of([ClientPublic.model_validate(r) for r in rows])


@router.post("/clients/{client_id}/revoke", response_model=ClientPublic)
def revoke_client(client_id: int, session: SessionDep, actor: ActorDep,
                  now: NowDep) -> ClientPublic:
    row = open311_clients.revoke_client(session, client_id=client_id, actor=actor, now=now)
    return ClientPublic.model_validate(row)
