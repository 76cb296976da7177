"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from control_center.errors import InvalidInput

MIN_LENGTH = 10
_hasher = PasswordHasher()
# verified against when the user name is unknown, so both paths cost one argon2 run
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-for-timing")


def check_policy(password: str) -> None:
    """Refuse passwords too short to resist guessing."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"Mật khẩu cần ít nhất {MIN_LENGTH} ký tự / the password needs at "
                           f"least {MIN_LENGTH} characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(password: str, encoded: str | None) -> bool:
    """True when ``password`` matches; an unknown user (None) still costs one verification."""
    try:
        return _hasher.verify(encoded or _DUMMY_HASH, password) and encoded is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    return _hasher.check_needs_rehash(encoded)
