"""People who sign in: users with one role each, bound to an administrative unit; their sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime, str_enum


class Role(StrEnum):
    """What a user may do, always within the subtree of their unit."""

    ADMIN = "admin"                        # users, units, devices, everything below
    OPERATOR = "operator"                  # prepares bulletins and schedules them
    APPROVER = "approver"                  # approves bulletins (never their own)
    TECHNICIAN = "technician"              # devices and alerts
    FEEDBACK_OFFICER = "feedback_officer"  # citizen feedback
    LEARNER = "learner"                    # studies training courses, nothing else


class User(Base):
    """An account; the password is stored as an argon2id hash only."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(str_enum(Role))
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True
    )
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class UserSession(Base):
    """A signed-in session, keyed by the SHA-256 of its token (the token is never stored)."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source_ip: Mapped[str | None] = mapped_column(String(64))


class SignInFailure(Base):
    """One failed sign-in: the user name as typed (known or not) and the source address.

    Counted over a sliding window: per account and address (lock), per address (throttle) and
    per account (slow-down); rows older than the window are deleted as new ones arrive.
    """

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    source_ip: Mapped[str] = mapped_column(String(64), index=True)


class SignInLink(Base):
    """A one-time sign-in link for the pages, keyed by the SHA-256 of its code.

    ``user_id`` None signs in as the monitoring viewer (the whole tree, like the API token);
    otherwise it opens a session of that user. Used once (``used_at``), before ``expires_at``.
    """

    __tablename__ = "sign_in_links"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
