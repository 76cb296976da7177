"""CAP 1.2 alerts: who may send them (``cap_senders``) and what was received (``cap_alerts``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime, str_enum
from protocol.base import Priority


class CapSenderKind(StrEnum):
    AUTHORITY = "authority"  # a warning authority posting with an API key (X-CAP-Key)
    CENTER = "center"        # another center (federation, later): checked by its center key


class EmergencyRule(StrEnum):
    """What an Extreme + Immediate alert of this sender does."""

    AT_ONCE = "at_once"    # sent to the devices at once (approval skipped, flagged)
    APPROVAL = "approval"  # waits for an approver of the sender's unit, as a request


class CapSender(Base):
    """One authority (or, later, one registered center) allowed to alert a unit subtree, as
    IPAWS lets each alerting authority alert its own area only.

    ``sender`` is the CAP ``<sender>`` string its alerts must carry. A key is never stored:
    ``key_prefix`` (not secret) finds the row, ``key_sha256`` checks the rest (a center sender
    has neither: it will be checked by its center identity). A revoked sender keeps its row,
    so its alerts stay attributed.
    """

    __tablename__ = "cap_senders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[CapSenderKind] = mapped_column(
        str_enum(CapSenderKind), default=CapSenderKind.AUTHORITY, server_default="authority")
    sender: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True)
    emergency_rule: Mapped[EmergencyRule] = mapped_column(str_enum(EmergencyRule))
    key_prefix: Mapped[str | None] = mapped_column(String(16), unique=True)
    key_sha256: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class CapOutcome(StrEnum):
    """What a received alert did."""

    EMERGENCY_SENT = "emergency_sent"          # played at once on the area's devices
    EMERGENCY_WAITING = "emergency_waiting"    # an emergency request waiting for an approver
    SUBMITTED = "submitted"                    # a bulletin in the approval workflow
    UPDATED = "updated"                        # an Update applied to the referenced bulletin
    CANCELLED = "cancelled"                    # a Cancel applied to the referenced bulletin


class CapAlert(Base):
    """One accepted CAP alert; (sender, identifier, sent) is the alert's identity in CAP, so a
    duplicate is answered with the first one's outcome and ``references`` resolve here.
    Refused alerts are not kept here: each is an audit entry (``cap_refused``) with its
    reason."""

    __tablename__ = "cap_alerts"
    __table_args__ = (UniqueConstraint("sender", "identifier", "sent"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[int] = mapped_column(
        ForeignKey("cap_senders.id", ondelete="RESTRICT"), index=True)
    sender: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str] = mapped_column(String(255))
    sent: Mapped[str] = mapped_column(String(40))  # as written in the alert (references use it)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    msg_type: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    refs: Mapped[str] = mapped_column(Text, default="", server_default="")  # <references>
    priority: Mapped[Priority] = mapped_column(str_enum(Priority))
    unit_ids: Mapped[str] = mapped_column(Text, default="", server_default="")  # "1,5,9"
    bulletin_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulletins.id", ondelete="RESTRICT"), index=True)
    broadcast_id: Mapped[int | None] = mapped_column(Integer)  # an emergency's send or request
    outcome: Mapped[CapOutcome] = mapped_column(str_enum(CapOutcome))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
