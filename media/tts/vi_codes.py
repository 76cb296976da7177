"""Phone numbers, document numbers and abbreviations, spelt out as officials read them.

"0912.345.678" → digit by digit; "gọi 113" → "gọi một một ba"; "345/QĐ-UBND" → "ba trăm bốn
mươi lăm quyết định ủy ban nhân dân" (slash and hyphen silent, a year after the number is read
"năm ..."); "P.5" → "phường năm"; "TX. Sơn Tây" → "thị xã Sơn Tây"; "BHYT" → "bảo hiểm y tế".
"""

from __future__ import annotations

import re

from media.tts.vi_numbers import read_digits, read_number
from media.tts.vi_words import ABBREVIATIONS, DOCUMENT_CODES, PLACES

_PHONE_RE = re.compile(
    r"(?<![\w.,/])(?:0\d{2,4}(?:[ .\-]?\d{2,7}){1,3}|1[89]00[ .]?\d{4,6})(?!\w|[.,]\d)")
_EMERGENCY_RE = re.compile(r"(?<![\w.,/])11[1-5](?![\w/]|[.,]\d)")
_CALLERS_RE = re.compile(
    r"(?:gọi|cứu hỏa|cứu hoả|cấp cứu|công an|cứu nạn|đường dây nóng|tổng đài|điện thoại|hotline"
    r"|liên hệ)\s*:?\s*(?:số\s+)?(?:\S+\s+hoặc\s+)?$", re.IGNORECASE)

_CODE = r"[A-ZĐ][A-Za-zĐđ&0-9]*"
_DOCUMENT_RE = re.compile(
    rf"(?<![\w/])(?P<n>\d+)(?:/(?P<y>\d{{4}}))?/(?P<codes>{_CODE}(?:-{_CODE})*)(?![\w/])")
_KNOWN_CODE = "|".join(re.escape(k) for k in sorted({*ABBREVIATIONS, *DOCUMENT_CODES},
                                                    key=len, reverse=True) if "/" not in k)
_CODE_CHAIN_RE = re.compile(rf"(?<![\w-])(?:{_KNOWN_CODE})(?:-(?:{_KNOWN_CODE}))+(?![\w-])")
_PLACE_RE = re.compile(
    r"(?<![\w.])(?P<k>" + "|".join(sorted(PLACES, key=len, reverse=True))
    + r")\.\s?(?=(?P<next>\w))")
_ABBREV_RE = re.compile(
    "|".join(rf"(?<!\w){re.escape(k)}(?!\w)" if k[-1].isalnum() else rf"(?<!\w){re.escape(k)}"
             for k in sorted(ABBREVIATIONS, key=len, reverse=True)))


def spell_phones(text: str) -> str:
    """Phone numbers (10–11 digits from 0, or 1800/1900 lines) digit by digit."""
    return _PHONE_RE.sub(_phone, text)


def spell_emergency_numbers(text: str) -> str:
    """111–115 digit by digit after a word that calls them ("gọi 113", "cứu hỏa 114")."""
    return _EMERGENCY_RE.sub(_emergency, text)


def spell_documents(text: str) -> str:
    """Document numbers ("12/2025/TT-BTTTT") and chains of codes ("NĐ-CP")."""
    text = _DOCUMENT_RE.sub(_document, text)
    return _CODE_CHAIN_RE.sub(lambda m: " ".join(_code(c) for c in m.group(0).split("-")), text)


def spell_abbreviations(text: str) -> str:
    """Places ("P.5", "H. Gia Lâm") first, then the abbreviation table."""
    text = _PLACE_RE.sub(_place, text)
    return _ABBREV_RE.sub(lambda m: ABBREVIATIONS[m.group(0)], text)


def _phone(match: re.Match[str]) -> str:
    token = match.group(0)
    digits = sum(ch.isdigit() for ch in token)
    if token.startswith("0") and digits not in (10, 11):
        return token
    return read_digits(token)


def _emergency(match: re.Match[str]) -> str:
    before = match.string[max(0, match.start() - 40):match.start()]
    return read_digits(match.group(0)) if _CALLERS_RE.search(before) else match.group(0)


def _code(code: str) -> str:
    return DOCUMENT_CODES.get(code) or ABBREVIATIONS.get(code) or code


def _document(match: re.Match[str]) -> str:
    words = [read_number(int(match.group("n")))]
    if match.group("y"):
        words += ["năm", read_number(int(match.group("y")))]
    words += [_code(code) for code in match.group("codes").split("-")]
    return " ".join(words)


def _place(match: re.Match[str]) -> str:
    """Only before a number or a capitalised name: "H. Gia Lâm", not "h. gia lâm"."""
    following = match.group("next")
    if not (following.isdigit() or following.isupper()):
        return match.group(0)
    return PLACES[match.group("k")] + " "
