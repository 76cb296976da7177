"""Live streams: a relay of an upper station, or a live microphone session."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime, str_enum
from protocol.base import Priority


class LiveKind(StrEnum):
    RELAY = "relay"            # an upstream URL, played in the windows of a relay bulletin
    MICROPHONE = "microphone"  # an operator speaking (console browser or a commune's Pi)


class LiveState(StrEnum):
    PREPARED = "prepared"  # made, not started (the first step of a live session)
    LIVE = "live"          # on air: the segmenter runs, devices were told
    ENDED = "ended"        # stopped; its recording is kept


class LiveStream(Base):
    """One stream devices pull segments of, with the secret their tokens derive from.

    A relay bulletin has exactly one stream (``bulletin_id``); its segmenter runs during the
    bulletin's windows. A microphone session is one stream from start to stop, sent to the
    devices under ``target_unit_id`` by signed command; its audio comes from the console
    (``source_device_id`` None) or from the microphone of the Pi named there.
    """

    __tablename__ = "live_streams"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[LiveKind] = mapped_column(str_enum(LiveKind))
    title: Mapped[str] = mapped_column(String(500))
    priority: Mapped[Priority] = mapped_column(str_enum(Priority))
    state: Mapped[LiveState] = mapped_column(str_enum(LiveState), index=True)
    secret: Mapped[str] = mapped_column(String(64))
    bulletin_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulletins.id", ondelete="CASCADE"), unique=True)
    source_url: Mapped[str | None] = mapped_column(Text)
    window_s: Mapped[int | None] = mapped_column(Integer)
    source_device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"))
    target_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True)
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    delay_ms: Mapped[int] = mapped_column(Integer, default=1500)
    gone_after_s: Mapped[int] = mapped_column(Integer, default=10)
    filler_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("media_assets.sha256", ondelete="RESTRICT"))
    runs: Mapped[int] = mapped_column(Integer, default=0)
    recording_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
