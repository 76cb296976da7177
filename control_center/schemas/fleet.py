"""Units, devices, groups and commands."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from control_center.models import CommandKind, CommandResult, DeviceState
from control_center.schemas.common import DeliveryReport, InputModel, Name, OutputModel
from protocol.base import Priority
from protocol.events import DeviceKind
from protocol.manifest import CommandAction, Manifest, PlayNow, SetVolume, StopPlayback

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Level = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=63)]


class UnitCreate(InputModel):
    code: Code
    name: Name
    level: Level = Field(description="central, province, district, commune... (free text)")
    parent_id: int | None = None


class UnitUpdate(InputModel):
    """Rename, recode or move a unit; fields left out stay as they are."""

    name: Name | None = None
    code: Code | None = None
    parent_id: int | None = Field(default=None, description=(
        "move below this unit (of your subtree, not the unit itself or one below it); null "
        "(system token only) makes it a root; leave it out to keep the parent"))
    broker: str | None = Field(default=None, max_length=32, description=(
        "the broker of the devices below (a name of GET /api/v1/brokers); null inherits the "
        "parent's; enrolled devices on another broker are moved by a signed command, the "
        "others at their enrolment; the same name again retries the waiting moves"))


class UnitPublic(OutputModel):
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    created_at: datetime
    retired_at: datetime | None = Field(description="null while in service")
    broker: str | None = Field(default=None, description=(
        "the broker named for the devices below; null inherits the parent's (none: main)"))


class DeviceCreate(InputModel):
    id: DeviceId = Field(description="also the MQTT user name: a-z, 0-9, '-', '_' (max 63)")
    name: Name
    kind: DeviceKind = DeviceKind.SPEAKER
    unit_id: int
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class DevicePublic(OutputModel):
    id: str
    name: str
    kind: DeviceKind
    unit_id: int
    lat: float | None
    lon: float | None
    online: bool
    last_seen_at: datetime | None
    status_changed_at: datetime | None
    manifest_version_acked: int | None
    agent_version: str
    created_at: datetime
    state: DeviceState = DeviceState.ACTIVE
    state_changed_at: datetime | None = None
    state_reason: str = ""
    enrolled_at: datetime | None = None
    credential_rotated_at: datetime | None = None
    broker: str = Field(default="main", description="the broker its account is on")


class DeviceCreated(DevicePublic):
    """Returned once by POST /devices: the broker password is not stored in clear."""

    mqtt_username: str
    mqtt_password: str
    delivery: DeliveryReport


class DeviceManifest(OutputModel):
    device_id: str
    version: int
    content_hash: str
    item_count: int
    built_at: datetime
    published_at: datetime | None = Field(description="null until the broker acknowledged it")
    manifest: Manifest
    envelope: str = Field(description="the signed envelope exactly as published (retained)")


class GroupCreate(InputModel):
    name: Name
    device_ids: list[DeviceId] = Field(default_factory=list)


class GroupPublic(OutputModel):
    id: int
    name: str
    device_ids: list[str]
    created_at: datetime


class PlayBulletin(InputModel):
    """Play a stored, approved bulletin now (sent to the device as ``play_now``); one of
    emergency priority is an emergency broadcast to this device and needs ``confirm``."""

    type: Literal["play_bulletin"] = "play_bulletin"
    bulletin_id: int
    confirm: str = Field(default="", max_length=100,
                         description='for an emergency bulletin: "PHÁT KHẨN CẤP"')


CommandRequest = Annotated[
    PlayNow | StopPlayback | SetVolume | PlayBulletin, Field(discriminator="type")
]


class CommandPublic(OutputModel):
    id: str
    device_id: str
    issued_at: datetime
    expires_at: datetime
    action: CommandAction
    emergency_id: int | None = Field(
        default=None, description="the emergency broadcast this command belongs to")
    status_url: str | None = Field(default=None,
                                   description="the emergency's progress, when it is one")


class DeviceCommandPublic(OutputModel):
    """One command asked for a device, sent or refused (the device's command history)."""

    id: int
    device_id: str
    at: datetime
    actor: str
    kind: CommandKind
    priority: Priority | None = Field(description="of the content played, for plays")
    bulletin_id: int | None
    level: int | None = Field(description="for set_volume")
    result: CommandResult = Field(description="sent | undelivered | refused")
    reason: str | None = Field(description="why it was refused or not delivered")
    flagged: bool = Field(description="emergency priority, or refused")
    command_id: str | None = Field(description="null when refused (nothing was signed)")
    expires_at: datetime | None
    emergency_id: int | None
