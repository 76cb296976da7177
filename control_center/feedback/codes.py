"""Reference codes a citizen can read out or type, long enough that guessing one is hopeless.

A new code is 12 symbols from a 32-symbol alphabet (digits 2–9 and the letters without I and
O, so nothing looks like 0, 1, I or O), drawn with ``secrets``: 60 bits, grouped by four for
reading aloud (``7KQM-4ZD2-HXPA``). Codes issued before (6 symbols, kiosks' own codes) are
looked up as they were written.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SYMBOLS = 12
GROUP = 4
ENTROPY_BITS = SYMBOLS * 5  # 32 = 2**5 symbols


def group(symbols: str) -> str:
    """``ABCDEFGHJKLM`` -> ``ABCD-EFGH-JKLM``."""
    return "-".join(symbols[i:i + GROUP] for i in range(0, len(symbols), GROUP))


def new_ref_code() -> str:
    """A fresh code: 12 random symbols in three groups of four (14 characters)."""
    return group("".join(secrets.choice(ALPHABET) for _ in range(SYMBOLS)))


def lookup_forms(typed: str) -> list[str]:
    """The stored forms a typed code may have: as typed (upper case, no outer spaces) and, for
    12 symbols typed without or with other separators, the grouped form."""
    exact = typed.strip().upper()
    forms = [exact]
    bare = "".join(ch for ch in exact if ch not in " -.")
    if len(bare) == SYMBOLS and all(ch in ALPHABET for ch in bare) and group(bare) != exact:
        forms.append(group(bare))
    return forms
