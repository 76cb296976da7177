"""Vietnamese number reading: 21 → "hai mươi mốt", 105 → "một trăm linh năm"."""

from __future__ import annotations

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALES = ((10**6, "triệu"), (10**3, "nghìn"), (1, ""))
_BILLION = 10**9


def read_number(n: int) -> str:
    """The words for a whole number (negative numbers start with "âm")."""
    if n < 0:
        return "âm " + read_number(-n)
    if n == 0:
        return DIGITS[0]
    words: list[str] = []
    billions, rest = divmod(n, _BILLION)
    if billions:
        words += [read_number(billions), "tỷ"]
    for scale, name in _SCALES:
        group, rest = divmod(rest, scale)
        if group == 0:
            continue
        words += _below_thousand(group, full=bool(words))
        if name:
            words.append(name)
    return " ".join(words)


def _below_thousand(n: int, *, full: bool) -> list[str]:
    """0 < n < 1000; ``full`` for a group after a larger one (2025: "không trăm hai mươi lăm")."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            words += ["linh", DIGITS[units]] if words else [DIGITS[units]]
    elif tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else DIGITS[units])
    else:
        words += [DIGITS[tens], "mươi"]
        if units:
            words.append({1: "mốt", 4: "tư", 5: "lăm"}.get(units, DIGITS[units]))
    return words


def read_digits(digits: str) -> str:
    """Digit by digit (phone numbers, codes, "05"): "0912" → "không chín một hai"."""
    return " ".join(DIGITS[int(d)] for d in digits if d.isdigit())


def read_decimal(whole: str, fraction: str) -> str:
    """"3,5" → "ba phẩy năm"; a fraction with a leading zero is read digit by digit."""
    tail = read_digits(fraction) if fraction.startswith("0") else read_number(int(fraction))
    return f"{read_number(int(whole))} phẩy {tail}"


def read_integer_token(token: str) -> str:
    """A digit string as written: leading zeros mean a code read digit by digit."""
    if len(token) > 1 and token.startswith("0"):
        return read_digits(token)
    return read_number(int(token))


_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def read_roman(numeral: str) -> int | None:
    """"XIII" → 13 (subtractive forms included); None when the letters are not a numeral."""
    if not numeral or any(ch not in _ROMAN for ch in numeral):
        return None
    total = 0
    for ch, nxt in zip(numeral, numeral[1:] + " ", strict=True):
        value = _ROMAN[ch]
        total += -value if nxt in _ROMAN and _ROMAN[nxt] > value else value
    return total


def read_ordinal(n: int) -> str:
    """After "thứ": 1 → "nhất", 4 → "tư", otherwise the cardinal ("thứ mười", "thứ hai mươi tư")."""
    return {1: "nhất", 4: "tư"}.get(n, read_number(n))


def read_month(n: int) -> str:
    """Month names: "tháng tư" for April, otherwise the cardinal."""
    return "tư" if n == 4 else read_number(n)
