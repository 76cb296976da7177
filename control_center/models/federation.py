"""Links between centers: the registered peers, and the signed messages sent and received.

Every message between two centers goes through an outbox row written in the same transaction
as the change it reports (nothing is lost when the link or the process is down) and is applied
by the receiver at most once (a row per received message id): delivery at least once plus
idempotent receipt gives exactly once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime, str_enum


class PeerRole(StrEnum):
    CHILD = "child"    # a center below this one (a province's, seen from the central one)
    PARENT = "parent"  # the center above this one (the central one, seen from a province)


class PeerState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"  # its messages are refused; nothing more is sent to it


class FederationPeer(Base):
    """Another center this one exchanges signed messages with (registered by an administrator
    with its identity's public key; each side registers the other)."""

    __tablename__ = "federation_peers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    center_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))  # its base URL (https://…)
    public_key: Mapped[str] = mapped_column(String(64))  # base64 raw Ed25519 key
    role: Mapped[PeerRole] = mapped_column(str_enum(PeerRole))
    # a child: the unit of this center's tree it stands for (its province); a parent: None
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True)
    state: Mapped[PeerState] = mapped_column(str_enum(PeerState), default=PeerState.ACTIVE)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class FederationOutbox(Base):
    """A signed message waiting for (or past) the peer's acknowledgement."""

    __tablename__ = "federation_outbox"
    __table_args__ = (Index("ix_federation_outbox_pending", "peer_id", "delivered_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    envelope: Mapped[str] = mapped_column(Text)  # the signed envelope, as sent
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))  # applied | duplicate | refused
    last_error: Mapped[str | None] = mapped_column(Text)


class FederationReceived(Base):
    """A message applied (or refused for good) once: its id is never applied again."""

    __tablename__ = "federation_received"
    __table_args__ = (UniqueConstraint("peer_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str] = mapped_column(String(20))  # applied | refused
    detail: Mapped[str] = mapped_column(Text, default="")


class FederatedBulletin(Base):
    """A bulletin that crossed a link: on the sender, one row per receiving peer (with the
    states the receiver reported); on the receiver, the local bulletin it became."""

    __tablename__ = "federated_bulletins"
    __table_args__ = (UniqueConstraint("peer_id", "remote_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id", ondelete="CASCADE"))
    remote_ref: Mapped[str] = mapped_column(String(36))  # the sender's message id
    bulletin_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulletins.id", ondelete="SET NULL"), index=True)
    direction: Mapped[str] = mapped_column(String(4))  # out | in
    state: Mapped[str] = mapped_column(String(20))  # sent, inbox, scheduled, declined, emergency
    plays_completed: Mapped[int] = mapped_column(Integer, default=0)
    devices_targeted: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # the child's reason for declining, or for refusing the message (then state: failed)
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")


class FederatedFigures(Base):
    """One unit's figures for one local day: on a parent, a child center's (``peer_id``) as
    last reported; on a child, what it last sent that parent (``peer_id``: the parent), so a
    day is sent again only when its figures changed. ``figures`` holds an
    ``effectiveness.federated.ReportedDay``; ``received_at`` the instant of the report (its
    message's ``at``), which decides which of two reports of a day is the newer."""

    __tablename__ = "federated_figures"
    __table_args__ = (UniqueConstraint("peer_id", "unit_code", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id", ondelete="CASCADE"))
    unit_code: Mapped[str] = mapped_column(String(64))
    unit_name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(20))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD, in the child's time zone
    figures: Mapped[str] = mapped_column(Text)  # JSON: {tz, figures} (docs/federation.md)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
