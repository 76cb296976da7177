"""Users and sessions: create, sign in (throttled, see ``throttle``), look up a session,
sign out."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from control_center.accounts import passwords, throttle
from control_center.config import Settings
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.permissions import Permission
from control_center.core.targets import descendant_unit_ids
from control_center.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    UnknownReference,
)
from control_center.models import AdminUnit, Role, User, UserSession

log = logging.getLogger(__name__)
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
TOUCH_EVERY = timedelta(minutes=1)  # how often a session's last use is written


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the token goes to the client once; only its hash is stored."""

    user: User
    token: str
    csrf_token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session, *, username: str, password: str, role: Role, unit_id: int,
    full_name: str = "", actor: Actor, now: datetime,
) -> User:
    """Add a user inside the actor's subtree (an admin cannot create users above itself)."""
    actor.require(Permission.MANAGE_USERS)
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise InvalidInput("tên đăng nhập chỉ gồm a-z, 0-9, . _ - (2–64 ký tự) / the user name "
                           "may hold a-z, 0-9, '.', '_' and '-' (2-64 characters)")
    if session.get(AdminUnit, unit_id) is None:
        raise UnknownReference(f"unit {unit_id} does not exist")
    actor.require_unit(unit_id, what=f"unit {unit_id}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user name {username!r} is taken")
    user = User(username=username, full_name=full_name.strip(), role=role, unit_id=unit_id,
                password_hash=passwords.hash_password(password), active=True, failed_logins=0,
                created_at=now)
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="user", object_id=user.id,
                 detail={"username": username, "role": role.value, "unit_id": unit_id}, at=now)
    session.commit()
    return user


SIGN_IN_FAILED = ("Sai tên đăng nhập hoặc mật khẩu (hoặc tài khoản đang bị khóa) / wrong user "
                  "name or password (or the account is locked)")


def authenticate(
    session: Session, *, username: str, password: str, settings: Settings, now: datetime,
    source_ip: str | None,
) -> SignedIn:
    """Check the password; one answer for a wrong name or password, a disabled account and
    an account locked for this address (``NotAuthenticated(SIGN_IN_FAILED)``).

    Failures are counted per address and account (``throttle``): an address that failed too
    often gets ``TooManyAttempts`` (429), an account attacked from everywhere is slowed down,
    and an account is locked only for the address that failed on it.
    """
    name, address = username.strip().lower()[:64], source_ip or ""
    limits = throttle.Limits.of(settings)
    throttle.refuse_if_throttled(session, username=name, source_ip=address, limits=limits,
                                 now=now)
    was_locked = throttle.locked_until(session, username=name, source_ip=address,
                                       limits=limits, now=now) is not None
    user = session.scalar(select(User).where(User.username == name))
    ok = passwords.verify_password(password, user.password_hash if user else None)
    if was_locked or user is None or not ok or not user.active:
        throttle.record_failure(session, username=name, source_ip=address, limits=limits,
                                now=now)
        lock_end = throttle.locked_until(session, username=name, source_ip=address,
                                         limits=limits, now=now)
        if user is not None:
            if lock_end is not None:
                user.locked_until = max(lock_end, user.locked_until or lock_end)
            if not was_locked:  # attempts while locked are counted, not audited again
                locked = lock_end is not None
                audit.record(session, actor=Actor(name=username[:100] or "?",
                                                  source_ip=source_ip),
                             action="login_locked" if locked else "login_failed",
                             object_type="user", object_id=user.id,
                             detail={"active": user.active}, at=now, flagged=locked)
        session.commit()
        raise NotAuthenticated(SIGN_IN_FAILED)
    throttle.forget(session, username=name, source_ip=address)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return open_session(session, user=user, settings=settings, now=now, source_ip=source_ip)


def open_session(
    session: Session, *, user: User, settings: Settings, now: datetime, source_ip: str | None,
) -> SignedIn:
    """A new session for ``user`` (signed in, or through a one-time link), audited as login."""
    user.failed_logins = 0
    user.last_login_at = now
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = now + timedelta(hours=settings.session_hours)
    session.add(UserSession(token_hash=token_hash(token), user_id=user.id, csrf_token=csrf,
                            created_at=now, expires_at=expires, last_seen_at=now,
                            source_ip=source_ip))
    session.execute(delete(UserSession).where(UserSession.expires_at < now))
    audit.record(session, actor=Actor(user.username, source_ip, user.id, user.role,
                                            user.unit_id),
                 action="login", object_type="user", object_id=user.id, detail={}, at=now)
    session.commit()
    return SignedIn(user=user, token=token, csrf_token=csrf, expires_at=expires)


def resolve_session(
    session: Session, *, token: str, settings: Settings, now: datetime,
) -> tuple[User, UserSession]:
    """The user behind a session token; expired, idle or disabled sessions are refused.

    Only reads: ``signed_in`` refreshes ``last_seen_at`` (at most once a minute) separately.
    """
    row = session.get(UserSession, token_hash(token))
    if row is None:
        raise NotAuthenticated("phiên đăng nhập không hợp lệ / unknown session: sign in again")
    idle = timedelta(minutes=settings.session_idle_minutes)
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        raise NotAuthenticated("phiên đăng nhập đã hết hạn / the session expired: sign in again")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise NotAuthenticated("tài khoản đã bị vô hiệu / the account is disabled")
    return user, row


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """The acting identity behind a session token, with what the pages need beside it."""

    actor: Actor
    csrf_token: str
    full_name: str


def signed_in(
    *, read_sessions: sessionmaker[Session], write_sessions: sessionmaker[Session], token: str,
    settings: Settings, now: datetime, source_ip: str | None,
) -> SignedInUser:
    """Resolve a session token in a read transaction (no write lock for ordinary requests);
    refresh its idle clock in a short write of its own, at most once a minute."""
    with read_sessions() as session:
        user, row = resolve_session(session, token=token, settings=settings, now=now)
        signed = SignedInUser(actor_for(session, user=user, source_ip=source_ip,
                                        settings=settings),
                              row.csrf_token, user.full_name)
        stale = now - row.last_seen_at > TOUCH_EVERY
    if stale:
        with write_sessions() as session:
            session.execute(update(UserSession)
                            .where(UserSession.token_hash == token_hash(token))
                            .values(last_seen_at=now))
            session.commit()
    return signed


def end_session(session: Session, *, token: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(token)))
    session.commit()


def actor_for(
    session: Session, *, user: User, source_ip: str | None, settings: Settings
) -> Actor:
    """The acting identity of a user: role, unit and the subtree it may touch."""
    scope = frozenset(descendant_unit_ids(session, unit_ids=[user.unit_id]))
    return Actor(name=user.username, source_ip=source_ip, user_id=user.id, role=user.role,
                       unit_id=user.unit_id, scope=scope,
                       emergency_direct=user.role.value in settings.emergency_roles)


def managed_user(session: Session, *, user_id: int, actor: Actor) -> User:
    """A user of the actor's subtree (404 otherwise); the actor needs MANAGE_USERS."""
    actor.require(Permission.MANAGE_USERS)
    user = session.get(User, user_id)
    if user is None or not actor.covers(user.unit_id):
        raise NotFound(f"user {user_id} does not exist")
    return user


def set_active(
    session: Session, *, user_id: int, active: bool, actor: Actor, now: datetime
) -> User:
    """Enable or disable an account; disabling also ends its sessions. Nobody disables
    themselves (the last administrator could lock everyone out)."""
    user = managed_user(session, user_id=user_id, actor=actor)
    if user.id == actor.user_id and not active:
        raise Conflict("không thể tự khóa tài khoản của mình / you cannot disable your own "
                       "account")
    if user.active != active:
        user.active = active
        if not active:
            session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        audit.record(session, actor=actor, action="enable" if active else "disable",
                     object_type="user", object_id=user.id, detail={}, at=now)
    session.commit()
    return user


def unlock(session: Session, *, user_id: int, actor: Actor, now: datetime) -> User:
    """Lift a lock-out before it ends by itself: the account's failures from every address
    are forgotten."""
    user = managed_user(session, user_id=user_id, actor=actor)
    throttle.forget(session, username=user.username)
    if user.locked_until is not None:
        user.locked_until, user.failed_logins = None, 0
        audit.record(session, actor=actor, action="unlock", object_type="user",
                     object_id=user.id, detail={}, at=now)
    session.commit()
    return user


def change_password(
    session: Session, *, user_id: int, current: str, new: str, keep_token: str | None,
    actor: Actor, now: datetime,
) -> None:
    """Change one's own password (the current one is checked); every other session ends."""
    user = session.get(User, user_id)
    if user is None or not passwords.verify_password(current, user.password_hash):
        raise NotAuthenticated("mật khẩu hiện tại không đúng / the current password is wrong")
    if new == current:
        raise InvalidInput("mật khẩu mới phải khác mật khẩu cũ / the new password must differ "
                           "from the old one")
    user.password_hash = passwords.hash_password(new)
    keep = token_hash(keep_token) if keep_token else ""
    session.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                              UserSession.token_hash != keep))
    audit.record(session, actor=actor, action="password_change", object_type="user",
                 object_id=user.id, detail={}, at=now)
    session.commit()


def list_users(session: Session, *, actor: Actor) -> list[User]:
    query = select(User).order_by(User.username)
    if actor.scope is not None:
        query = query.where(User.unit_id.in_(actor.scope))
    return list(session.scalars(query))
