"""What is broadcast: media assets, bulletins, schedules and their targets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from control_center.models.base import Base, UtcDateTime, str_enum
from protocol.base import Priority

if TYPE_CHECKING:
    from control_center.models.live import LiveStream


class BulletinKind(StrEnum):
    AUDIO = "audio"
    TEXT = "text"
    RELAY = "relay"  # an upstream station relayed in windows (its stream: models.live)


class ScheduleKind(StrEnum):
    ONE_OFF = "one_off"
    RECURRING = "recurring"


class BulletinStatus(StrEnum):
    """The approval workflow: draft → submitted → approved → scheduled (rejected goes back)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    REJECTED = "rejected"

    @property
    def broadcastable(self) -> bool:
        return self in (BulletinStatus.APPROVED, BulletinStatus.SCHEDULED)


class MediaState(StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class MediaAsset(Base):
    """An upload, keyed by its own SHA-256 (dedup), stored as ``<data_dir>/media/<sha256>``.

    ``size``/``mime``/``duration_ms``/``codec`` describe the original. The pipeline adds
    renditions (the Opus delivery file manifests reference, an MP3 fallback), each stored as
    ``<data_dir>/media/<its sha256>``. Assets from before the pipeline have no renditions and
    deliver the original.
    """

    __tablename__ = "media_assets"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(100))
    duration_ms: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(40))
    original_name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[MediaState] = mapped_column(
        str_enum(MediaState), default=MediaState.PROCESSING, server_default="ready", index=True
    )
    error: Mapped[str | None] = mapped_column(Text)
    source_lufs: Mapped[float | None] = mapped_column(Float)
    source_true_peak: Mapped[float | None] = mapped_column(Float)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    renditions: Mapped[list[MediaRendition]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="MediaRendition.id"
    )

    def rendition(self, fmt: str) -> MediaRendition | None:
        return next((r for r in self.renditions if r.format == fmt), None)

    @property
    def delivery(self) -> MediaRendition | None:
        """The Opus rendition manifests reference (None before processing or for old assets)."""
        return self.rendition("opus")

    def delivery_file(self) -> tuple[str, int, str, int]:
        """(sha256, size, mime, duration_ms) of what devices download: delivery, else original."""
        d = self.delivery
        if d is None:
            return self.sha256, self.size, self.mime, self.duration_ms
        return d.sha256, d.size, d.mime, d.duration_ms


class MediaRendition(Base):
    """An encoded, loudness-normalised file made from an asset (one per format)."""

    __tablename__ = "media_renditions"
    __table_args__ = (UniqueConstraint("asset_sha256", "format"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_sha256: Mapped[str] = mapped_column(
        ForeignKey("media_assets.sha256", ondelete="CASCADE"), index=True
    )
    format: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(100))
    codec: Mapped[str] = mapped_column(String(40))
    bitrate: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    loudness_lufs: Mapped[float] = mapped_column(Float)
    true_peak_dbtp: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Bulletin(Base):
    """A piece of content (recorded audio or text) with its priority."""

    __tablename__ = "bulletins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    category: Mapped[str] = mapped_column(String(100), default="")
    priority: Mapped[Priority] = mapped_column(str_enum(Priority))
    kind: Mapped[BulletinKind] = mapped_column(str_enum(BulletinKind))
    media_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("media_assets.sha256", ondelete="RESTRICT"), index=True
    )
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # the approval workflow; rows from before it (and the system token's) are approved
    status: Mapped[BulletinStatus] = mapped_column(
        str_enum(BulletinStatus), default=BulletinStatus.APPROVED, server_default="approved",
        index=True,
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True
    )  # the owning unit (None: the whole tree, made with the system token)
    created_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    review_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    # emergency sent without approval by a role allowed to (also flagged in the audit log)
    approval_skipped: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # kind text: the text spoken by the center's TTS (loudspeakers play it; NULL until ready)
    voice_sha256: Mapped[str | None] = mapped_column(String(64))
    voice_error: Mapped[str | None] = mapped_column(Text)  # why making the voice failed
    # kind text: kiosks show each occurrence for these minutes, or until this local "HH:MM"
    # (both NULL: until the end of that day)
    shown_minutes: Mapped[int | None] = mapped_column(Integer)
    shown_until: Mapped[str | None] = mapped_column(String(5))
    # kind relay: its stream (source, window, filler); loaded when first read
    live_stream: Mapped[LiveStream | None] = relationship(viewonly=True, lazy="select")

    @property
    def source_url(self) -> str | None:
        """A relay's upstream URL (None for other kinds)."""
        stream = self.live_stream if self.kind == BulletinKind.RELAY else None
        return stream.source_url if stream is not None else None

    @property
    def window_minutes(self) -> int | None:
        """How long each occurrence of a relay lasts, in minutes (None for other kinds)."""
        stream = self.live_stream if self.kind == BulletinKind.RELAY else None
        return (stream.window_s or 0) // 60 if stream is not None else None

    @property
    def filler_sha256(self) -> str | None:
        """A relay's filler media, played while its source is gone (None: silence)."""
        stream = self.live_stream if self.kind == BulletinKind.RELAY else None
        return stream.filler_sha256 if stream is not None else None


class Schedule(Base):
    """When a bulletin plays: one instant, or an RRULE expanded in a local time zone."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(
        ForeignKey("bulletins.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[ScheduleKind] = mapped_column(str_enum(ScheduleKind))
    start_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rrule: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True
    )  # the unit whose operator made it (None: the system token)
    created_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    targets: Mapped[list[ScheduleTarget]] = relationship(
        cascade="all, delete-orphan", order_by="ScheduleTarget.id"
    )


class ScheduleTarget(Base):
    """One target of a schedule: a unit subtree, a group or a device (exactly one per row)."""

    __tablename__ = "schedule_targets"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN unit_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN device_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="exactly_one_target",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("device_groups.id", ondelete="RESTRICT"), index=True
    )
    device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.id", ondelete="RESTRICT"), index=True
    )
