"""Sign-in throttling, counted over a sliding window of recent failures (``SignInFailure``).

- one account from one address: ``lockout_failures`` lock that account *for that address*
  (the same answer as a wrong password), so failures elsewhere never lock the real user out;
- one address, whatever the accounts: ``signin_address_failures`` answer 429 until enough of
  them age out of the window;
- one account from all addresses: past ``signin_account_failures`` only a slow-down, one try
  per ``signin_slowdown_s``.

Names are counted as typed, known or not, so none of this tells which accounts exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from control_center.config import Settings
from control_center.errors import TooManyAttempts
from control_center.models import SignInFailure


@dataclass(frozen=True, slots=True)
class Limits:
    window: timedelta
    account_address: int
    address: int
    account: int
    slowdown: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(window=timedelta(minutes=settings.lockout_minutes),
                   account_address=settings.lockout_failures,
                   address=settings.signin_address_failures,
                   account=settings.signin_account_failures,
                   slowdown=timedelta(seconds=settings.signin_slowdown_s))


def _recent(session: Session, where: ColumnElement[bool], *, limits: Limits, now: datetime,
            newest: int) -> list[datetime]:
    """The times of the newest ``newest`` failures matching ``where`` inside the window."""
    query = (select(SignInFailure.at).where(where, SignInFailure.at > now - limits.window)
             .order_by(SignInFailure.at.desc()).limit(newest))
    return list(session.scalars(query))


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def refuse_if_throttled(session: Session, *, username: str, source_ip: str, limits: Limits,
                        now: datetime) -> None:
    """Raise ``TooManyAttempts`` (429) for a throttled address or a slowed-down account."""
    recent = _recent(session, SignInFailure.source_ip == source_ip, limits=limits, now=now,
                     newest=limits.address)
    if len(recent) >= limits.address:
        wait = _seconds(recent[-1] + limits.window - now)
        raise TooManyAttempts(
            f"Quá nhiều lần đăng nhập sai từ địa chỉ này, hãy thử lại sau {wait} giây / too "
            f"many failed sign-ins from this address: try again in {wait} s", retry_after_s=wait)
    count = session.scalar(select(func.count()).select_from(SignInFailure).where(
        SignInFailure.username == username, SignInFailure.at > now - limits.window)) or 0
    if count >= limits.account:
        last = session.scalar(select(func.max(SignInFailure.at)).where(
            SignInFailure.username == username))
        if last is not None and last + limits.slowdown > now:
            wait = _seconds(last + limits.slowdown - now)
            raise TooManyAttempts(
                f"Tài khoản này đang bị thử đăng nhập sai nhiều lần, hãy thử lại sau {wait} giây "
                f"/ too many failed sign-ins on this account: try again in {wait} s",
                retry_after_s=wait)


def locked_until(session: Session, *, username: str, source_ip: str, limits: Limits,
                 now: datetime) -> datetime | None:
    """When the lock of this account for this address ends; None when it is not locked."""
    recent = _recent(session, (SignInFailure.username == username)
                     & (SignInFailure.source_ip == source_ip),
                     limits=limits, now=now, newest=limits.account_address)
    if len(recent) < limits.account_address:
        return None
    return recent[-1] + limits.window


def record_failure(session: Session, *, username: str, source_ip: str, limits: Limits,
                   now: datetime) -> None:
    """Count one failure (the caller commits); failures older than the window are dropped."""
    session.execute(delete(SignInFailure).where(SignInFailure.at <= now - limits.window))
    session.add(SignInFailure(at=now, username=username, source_ip=source_ip))
    session.flush()


def forget(session: Session, *, username: str, source_ip: str | None = None) -> None:
    """Clear an account's failures: from one address (a successful sign-in there) or from
    all (an administrator's unlock). The caller commits."""
    where = SignInFailure.username == username
    if source_ip is not None:
        where = where & (SignInFailure.source_ip == source_ip)
    session.execute(delete(SignInFailure).where(where))
