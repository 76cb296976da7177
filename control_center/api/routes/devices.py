"""Devices: registration (broker credentials), their manifest, and one-shot commands."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.api.presenters import delivery
from control_center.core.permissions import Permission
from control_center.errors import NotFound
from control_center.models import Device, ManifestState
from control_center.schemas.common import ItemList
from control_center.schemas.fleet import (
    CommandPublic,
    CommandRequest,
    DeviceCreate,
    DeviceCreated,
    DeviceManifest,
    DevicePublic,
    PlayBulletin,
)
from control_center.services import commands, fleet
from control_center.workers.publisher import last_sync
from protocol.codec import decode_manifest
from protocol.signing import Verifier

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post("", response_model=DeviceCreated, status_code=201)
def create_device(
    data: DeviceCreate, session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep
) -> DeviceCreated:
    """Register a device. ``mqtt_password`` is returned this once and never again."""
    actor.require(Permission.MANAGE_FLEET)
    actor.require_unit(data.unit_id, what=f"unit {data.unit_id}")
    device, password = fleet.create_device(
        session, device_id=data.id, name=data.name, kind=data.kind, unit_id=data.unit_id,
        lat=data.lat, lon=data.lon, actor=actor, now=now,
    )
    report = last_sync(session)
    public = DevicePublic.model_validate(device)
    return DeviceCreated(**public.model_dump(), mqtt_username=device.id, mqtt_password=password,
                         delivery=delivery(report))


@router.get("", response_model=ItemList[DevicePublic])
def list_devices(
    session: SessionDep, actor: ActorDep, unit_id: int | None = None, recursive: bool = False
) -> ItemList[DevicePublic]:
    """Devices inside your subtree (all of them with the system token)."""
    if unit_id is not None:
        actor.require_unit(unit_id, what=f"unit {unit_id}")
    devices = fleet.list_devices(session, unit_id=unit_id, recursive=recursive)
    return ItemList.of([DevicePublic.model_validate(d) for d in devices
                        if actor.covers(d.unit_id)])


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

    The device answers with a ``command_ack`` event (see GET /events?type=command_ack).
    """
    actor.require(Permission.SCHEDULE)
    _visible_device(session, actor, device_id)
    settings = center.settings
    proto_action = (
        commands.play_now_for_bulletin(
            session, request=action, public_base_url=settings.public_base_url, now=now
        )
        if isinstance(action, PlayBulletin) else action
    )
    command = commands.send_command(
        session, device_id=device_id, action=proto_action, signer=center.signer,
        bridge=center.bridge, ttl=timedelta(seconds=ttl_seconds or settings.command_ttl_s),
        publish_timeout_s=settings.publish_timeout_s, actor=actor, now=now,
    )
    return CommandPublic.model_validate(command, from_attributes=True)
