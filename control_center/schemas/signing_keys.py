"""The center's signing keys through a rotation."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from control_center.models import SigningKeyState
from control_center.schemas.common import InputModel, OutputModel


class SigningKeyPublic(OutputModel):
    kid: str
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    state: SigningKeyState
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None


class RotationStatus(OutputModel):
    signing_kid: str = Field(description="the key signing manifests and commands now")
    keys: list[SigningKeyPublic] = Field(description="empty until a first rotation")
    active_devices: int
    confirmed_devices: int = Field(description="active devices holding the announced key "
                                               "(all of them when none is announced)")
    waiting_devices: list[str] = Field(description="up to 50 that do not hold it yet")


class ActivateRequest(InputModel):
    force: bool = Field(default=False, description="activate although some devices do not "
                                                   "hold the new key (they will refuse "
                                                   "everything until re-enrolled)")
