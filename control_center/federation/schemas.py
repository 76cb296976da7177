"""Request and answer bodies of the federation API (docs/api.md, "Federation")."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from control_center.federation.messages import Slot
from control_center.models import PeerRole, PeerState
from control_center.schemas.common import InputModel, OutputModel


class IdentityPublic(OutputModel):
    center_id: str
    public_key: str
    fingerprint: str


class PeerCreate(InputModel):
    center_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=500)
    public_key: str = Field(min_length=40, max_length=64)
    role: PeerRole
    unit_id: int | None = None


class PeerPublic(OutputModel):
    id: int
    center_id: str
    name: str
    url: str
    public_key: str
    fingerprint: str = ""
    role: PeerRole
    unit_id: int | None
    state: PeerState
    created_by: str
    created_at: datetime
    last_sent_at: datetime | None
    last_received_at: datetime | None
    last_error: str | None
    pending: int = 0


class MessagesIn(InputModel):
    messages: list[str] = Field(min_length=1)


class ReceiptPublic(OutputModel):
    id: str
    outcome: str
    reason: str = ""


class Receipts(OutputModel):
    receipts: list[ReceiptPublic]


class SendRequest(InputModel):
    bulletin_id: int
    peer_ids: list[int] = Field(min_length=1, max_length=100)
    slot: Slot | None = None
    valid_minutes: int | None = Field(default=None, ge=1, le=24 * 60)


class FederatedBulletinPublic(OutputModel):
    id: int
    peer_id: int
    remote_ref: str
    bulletin_id: int | None
    direction: str
    state: str
    devices_targeted: int
    plays_completed: int
    reason: str = ""
    updated_at: datetime


class Decision(InputModel):
    slot: Slot | None = None
    note: str = Field(default="", max_length=500)
