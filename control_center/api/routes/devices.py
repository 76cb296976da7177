"""Devices: registration (broker credentials), their manifest, and one-shot commands."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.api.presenters import delivery
from control_center.errors import NotFound
from control_center.models import Device, ManifestState
from control_center.schemas.common import ItemList
from control_center.schemas.fleet import (
    CommandPublic,
    CommandRequest,
    DeviceCommandPublic,
    DeviceCreate,
    DeviceCreated,
    DeviceManifest,
    DevicePublic,
)
from control_center.services import device_commands, fleet
from control_center.workers.publisher import last_sync
from protocol.codec import decode_manifest
from protocol.signing import Verifier

MAX_PAGE = 1000  # devices in one page of GET /devices

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post("", response_model=DeviceCreated, status_code=201)
def create_device(
    data: DeviceCreate, session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep
) -> DeviceCreated:
    """Register a device. ``mqtt_password`` is returned this once and never again."""
    actor.require_unit(data.unit_id, what=f"unit {data.unit_id}")
    device, password = fleet.create_device(
        session, center.accounts, device_id=data.id, name=data.name, kind=data.kind,
        unit_id=data.unit_id, lat=data.lat, lon=data.lon, actor=actor, now=now,
    )
    report = last_sync(session)
    public = DevicePublic.model_validate(device)
    return DeviceCreated(**public.model_dump(), mqtt_username=device.id, mqtt_password=password,
                         delivery=delivery(report))


@router.get("", response_model=ItemList[DevicePublic])
def list_devices(
    session: SessionDep, actor: ActorDep, unit_id: int | None = None, recursive: bool = False,
    after: Annotated[str | None, Query(max_length=64, description=(
        "a page: the devices whose id comes after this one"))] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE, description=(
        "a page of at most this many devices (all when left out)"))] = None,
) -> ItemList[DevicePublic]:
    """Devices inside your subtree (all of them with the system token), by id."""
    if unit_id is not None:
        actor.require_unit(unit_id, what=f"unit {unit_id}")
    devices = fleet.list_devices(session, unit_id=unit_id, recursive=recursive,
                                 scope=actor.scope, after=after, limit=limit)
    return ItemList.of([DevicePublic.model_validate(d) for d in devices])


def _visible_device(session: SessionDep, actor: ActorDep, device_id: str) -> Device:
    device = fleet.get_device(session, device_id=device_id)
    actor.require_unit(device.unit_id, what=f"device {device_id!r}")
    return device


@router.get("/{device_id}", response_model=DevicePublic)
def get_device(device_id: str, session: SessionDep, actor: ActorDep) -> DevicePublic:
    return DevicePublic.model_validate(_visible_device(session, actor, device_id))


@router.get("/{device_id}/manifest", response_model=DeviceManifest)
def get_manifest(
    device_id: str, session: SessionDep, center: CenterDep, actor: ActorDep
) -> DeviceManifest:
    """The manifest last built (and normally published, retained) for the device."""
    _visible_device(session, actor, device_id)
    state = session.get(ManifestState, device_id)
    if state is None:
        raise NotFound(f"no manifest has been built for device {device_id!r} yet")
    body = Verifier([center.signer.public_key]).open(state.body.encode())
    return DeviceManifest(
        device_id=device_id, version=state.version, content_hash=state.content_hash,
        item_count=state.item_count, built_at=state.built_at, published_at=state.published_at,
        manifest=decode_manifest(body), envelope=state.body,
    )


@router.post("/{device_id}/commands", response_model=CommandPublic, status_code=202)
def send_command(
    device_id: str,
    action: CommandRequest,
    session: SessionDep,
    center: CenterDep,
    actor: ActorDep,
    now: NowDep,
    ttl_seconds: Annotated[int | None, Query(ge=1, le=86_400)] = None,
) -> CommandPublic:
    """Sign and send a one-shot command; 202 once the broker acknowledged it.

    Needs the schedule permission; an emergency bulletin also the emergency permission and
    ``confirm``; a raw ``play_now`` is refused (see ``services.device_commands``). The device
    answers with a ``command_ack`` event (see GET /events?type=command_ack).
    """
    device = _visible_device(session, actor, device_id)
    settings = center.settings
    issued = device_commands.issue(
        session, desk=center.emergency, device=device, request=action,
        ttl=timedelta(seconds=ttl_seconds or settings.command_ttl_s),
        emergency_roles=settings.emergency_roles, actor=actor, now=now,
    )
    public = CommandPublic.model_validate(issued.command, from_attributes=True)
    if issued.emergency_id is not None:
        public.emergency_id = issued.emergency_id
        public.status_url = f"/api/v1/emergency/{issued.emergency_id}/status"
    return public


@router.get("/{device_id}/commands", response_model=ItemList[DeviceCommandPublic])
def command_history(
    device_id: str, session: SessionDep, actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500, offset: Annotated[int, Query(ge=0)] = 0,
) -> ItemList[DeviceCommandPublic]:
    """The commands asked for the device, sent or refused, newest first."""
    _visible_device(session, actor, device_id)
    rows = device_commands.history(session, device_id=device_id, limit=limit, offset=offset)
    return ItemList.of([DeviceCommandPublic.model_validate(r) for r in rows])
