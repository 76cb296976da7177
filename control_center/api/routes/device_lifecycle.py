"""A registered device's life: enrolment codes, rename and move, retire, revoke, credential
rotation, and registering many devices from a CSV (docs/devices.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Request

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.errors import InvalidInput
from control_center.schemas.common import ItemList
from control_center.schemas.enrolment import (
    DeviceUpdate,
    EnrolmentCodePublic,
    EnrolmentCodeRequest,
    ImportedDevicePublic,
    TakeOutRequest,
)
from control_center.schemas.fleet import DeviceCommandPublic, DevicePublic
from control_center.services import device_lifecycle, enrolment

router = APIRouter(prefix="/devices", tags=["devices"])
MAX_CSV_BYTES = 4 * 1024 * 1024


@router.post("/import", response_model=ItemList[ImportedDevicePublic], status_code=201)
async def import_devices(
    request: Request, session: SessionDep, actor: ActorDep, now: NowDep,
) -> ItemList[ImportedDevicePublic]:
    """Register every device of a CSV body (``text/csv``: ``id,name,kind,unit_code,lat,lon``)
    and issue each a one-time enrolment code (shown this once). One bad line: nothing is
    created, and the error names the line."""
    raw = await request.body()
    if len(raw) > MAX_CSV_BYTES:
        raise InvalidInput(f"the CSV is larger than {MAX_CSV_BYTES // 1024 // 1024} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the CSV must be UTF-8 text ({exc.reason} at byte {exc.start})") \
            from None
    imported = device_lifecycle.import_csv(session, text=text, actor=actor, now=now)
    return ItemList.of([ImportedDevicePublic(
        device_id=i.device.id, name=i.device.name, unit_id=i.device.unit_id, code=i.code,
        expires_at=i.expires_at) for i in imported])


@router.post("/{device_id}/enrolment-codes", response_model=EnrolmentCodePublic,
             status_code=201)
def new_enrolment_code(
    device_id: str, session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep,
    data: Annotated[EnrolmentCodeRequest | None, Body()] = None,
) -> EnrolmentCodePublic:
    """A one-time enrolment code for the device (earlier unused codes stop working)."""
    hours = (data or EnrolmentCodeRequest()).valid_hours
    issued = enrolment.issue_code(session, device_id=device_id, actor=actor, now=now,
                                  ttl=timedelta(hours=hours))
    command = enrolment.enrol_command(center.settings.public_base_url, issued.code)
    return EnrolmentCodePublic(device_id=device_id, code=issued.code,
                               expires_at=issued.expires_at, command=command,
                               qr_svg=enrolment.qr_svg(command))


@router.patch("/{device_id}", response_model=DevicePublic)
def update_device(
    device_id: str, data: DeviceUpdate, session: SessionDep, actor: ActorDep, now: NowDep,
) -> DevicePublic:
    """Rename, move (to a unit of your subtree) or relocate a device."""
    device = device_lifecycle.update_device(
        session, device_id=device_id, name=data.name, unit_id=data.unit_id, lat=data.lat,
        lon=data.lon, actor=actor, now=now)
    return DevicePublic.model_validate(device)


@router.post("/{device_id}/retire", response_model=DevicePublic)
def retire_device(
    device_id: str, data: TakeOutRequest, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> DevicePublic:
    """Take the device out of service: empty manifest, broker account disabled (it is
    disconnected at once), history kept."""
    device = device_lifecycle.retire(session, center.accounts, device_id=device_id,
                                     reason=data.reason, actor=actor, now=now)
    return DevicePublic.model_validate(device)


@router.post("/{device_id}/revoke", response_model=DevicePublic)
def revoke_device(
    device_id: str, data: TakeOutRequest, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> DevicePublic:
    """Cut off a stolen or compromised device for good (like retire; never enrolled again)."""
    device = device_lifecycle.revoke(session, center.accounts, device_id=device_id,
                                     reason=data.reason, actor=actor, now=now)
    return DevicePublic.model_validate(device)


@router.post("/{device_id}/rotate-credential", response_model=DeviceCommandPublic,
             status_code=202)
def rotate_credential(
    device_id: str, session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep,
) -> DeviceCommandPublic:
    """Send the device a new broker password (a signed command); the broker takes it once the
    device acknowledges, and the device keeps the old one until the new one worked."""
    row = device_lifecycle.rotate_credential(
        session, signer=center.signer, bridge=center.bridge, pending=center.pending_passwords,
        device_id=device_id, actor=actor, now=now, timeout_s=center.settings.publish_timeout_s)
    return DeviceCommandPublic.model_validate(row)
