"""Request and response bodies for sign-in and users."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from control_center.models import Role
from control_center.schemas.common import InputModel, OutputModel


class LoginRequest(InputModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)


class LoginPublic(OutputModel):
    """Send ``token`` as ``Authorization: Bearer``; it stops working at ``expires_at``."""

    token: str
    expires_at: datetime
    username: str
    role: Role
    unit_id: int


class UserCreate(InputModel):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=1, max_length=1000)
    role: Role
    unit_id: int
    full_name: str = Field(default="", max_length=200)


class UserPublic(OutputModel):
    id: int
    username: str
    full_name: str
    role: Role
    unit_id: int
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None


class MePublic(OutputModel):
    username: str
    role: Role | None
    unit_id: int | None
    permissions: list[str]
