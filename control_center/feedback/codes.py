"""Short reference codes a citizen can read out or type (no 0/O, 1/I/L confusion)."""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_ref_code(prefix: str = "", length: int = 6) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))
