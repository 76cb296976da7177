"""Request and response bodies of the CAP routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from control_center.models import CapOutcome, CapSenderKind, EmergencyRule
from control_center.schemas.common import InputModel, OutputModel
from protocol.base import Priority


class SenderCreate(InputModel):
    sender: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=255, pattern=r"^[^\s,<>&]+$")] = Field(
        description="the CAP <sender> its alerts carry (no spaces, commas, < > &)")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    unit_id: int = Field(description="its area: this unit and every unit below it")
    emergency_rule: EmergencyRule = Field(
        default=EmergencyRule.APPROVAL,
        description="Extreme + Immediate alerts: at_once (sent at once) or approval (wait "
                    "for an approver)")


class SenderUpdate(InputModel):
    emergency_rule: EmergencyRule


class SenderPublic(OutputModel):
    id: int
    kind: CapSenderKind
    sender: str
    name: str
    unit_id: int
    emergency_rule: EmergencyRule
    key_prefix: str | None
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


class SenderCreated(SenderPublic):
    api_key: str = Field(description="shown once (send it as X-CAP-Key): only its SHA-256 "
                                     "is kept")


class AlertPublic(OutputModel):
    id: int
    sender_id: int
    sender: str
    identifier: str
    sent: str
    msg_type: str
    status: str
    refs: str = Field(description="the alert's <references>, as received")
    priority: Priority
    unit_ids: list[int]
    bulletin_id: int | None
    broadcast_id: int | None
    outcome: CapOutcome
    reason: str
    received_at: datetime
    duplicate: bool = Field(default=False, description="true when this answers a repeat of "
                                                       "an alert already received")
