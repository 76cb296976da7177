"""The messages centers exchange: one signed envelope each (``protocol.signing``'s format,
signed with the sender's identity key), its body a ``FederationMessage``.

The body names its sender and receiver, so a message cannot be replayed to another center,
and carries an id the receiver applies at most once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from protocol.base import FrozenModel, Priority

MAX_BATCH = 50
"""Messages sent in one request (and accepted in one)."""


class Kind(StrEnum):
    HELLO = "hello"                    # either way: the link works (sent on registration)
    BULLETIN = "bulletin"              # parent -> child: content down
    BULLETIN_STATE = "bulletin_state"  # child -> parent: what became of it
    FIGURES = "figures"                # child -> parent: a day's figures per unit


class FederationMessage(FrozenModel):
    v: Literal[1] = 1
    id: str = Field(min_length=32, max_length=36)
    sender: str = Field(min_length=1, max_length=64)
    to: str = Field(min_length=1, max_length=64)
    kind: Kind
    at: AwareDatetime
    payload: dict[str, Any] = Field(default_factory=dict)


def new_message(*, sender: str, to: str, kind: Kind, at: datetime,
                payload: dict[str, Any]) -> FederationMessage:
    return FederationMessage(id=uuid.uuid4().hex, sender=sender, to=to, kind=kind, at=at,
                             payload=payload)


class MediaRef(FrozenModel):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1)


class Slot(FrozenModel):
    """When a priority bulletin plays: once (``start_at``) or by a rule."""

    start_at: AwareDatetime | None = None
    rrule: str | None = Field(default=None, max_length=500)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class BulletinDown(FrozenModel):
    """Content the parent sends down (Circular 39's priorities decide what the child does)."""

    title: str = Field(min_length=1, max_length=500)
    category: str = Field(default="", max_length=100)
    priority: Priority
    kind: Literal["audio", "text"]
    text: str | None = Field(default=None, max_length=20_000)
    media: MediaRef | None = None
    slot: Slot | None = None          # priority: required; normal: none (the child decides)
    valid_minutes: int | None = Field(default=None, ge=1, le=24 * 60)  # emergency
    sent_by: str = Field(default="", max_length=100)


class State(StrEnum):
    INBOX = "inbox"            # waits for the child's decision (normal)
    SCHEDULED = "scheduled"    # accepted into a slot, or came with one (priority)
    DECLINED = "declined"
    EMERGENCY = "emergency"    # sent through the child's emergency path
    FAILED = "failed"          # could not be taken (the reason says why)


class BulletinState(FrozenModel):
    ref: str = Field(min_length=32, max_length=36)  # the BULLETIN message's id
    state: State
    devices_targeted: int = Field(default=0, ge=0)
    plays_completed: int = Field(default=0, ge=0)
    reason: str = Field(default="", max_length=500)
