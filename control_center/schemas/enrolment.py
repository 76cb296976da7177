"""Enrolment codes, a device's enrolment, and the device lifecycle requests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from control_center.schemas.common import InputModel, OutputModel

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class EnrolmentCodeRequest(InputModel):
    valid_hours: float = Field(default=72, ge=0.1, le=720,
                               description="how long the code works (default 3 days)")


class EnrolmentCodePublic(OutputModel):
    """Shown once: only the code's hash is stored."""

    device_id: str
    code: str
    expires_at: datetime
    command: str = Field(description="what the technician types on the device")
    qr_svg: str = Field(description="the code as a QR picture (SVG document)")


class EnrolRequest(InputModel):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=64)]


class BrokerAccess(OutputModel):
    url: str = Field(description="mqtt://host:port, or mqtts://host:port for TLS")
    host: str
    port: int
    tls: bool
    username: str
    password: str
    client_id: str


class Enrolment(OutputModel):
    """What a device receives for its code (the password only this once)."""

    device_id: str
    name: str
    kind: str
    center_url: str
    time_url: str
    mqtt: BrokerAccess
    center_public_keys: list[str]


class DeviceUpdate(InputModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=200)] | None = None
    unit_id: int | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class TakeOutRequest(InputModel):
    reason: Reason


class ImportedDevicePublic(OutputModel):
    device_id: str
    name: str
    unit_id: int
    code: str
    expires_at: datetime
