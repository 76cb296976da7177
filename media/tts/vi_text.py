"""Normalise Vietnamese text for a speech engine: numbers, dates, times, units, abbreviations.

Table-driven and ordered: abbreviations, dates, times, percentages and units, ranges, then the
remaining numbers. "17h30 ngày 2/9" → "mười bảy giờ ba mươi phút ngày hai tháng chín".
"""

from __future__ import annotations

import re

from media.tts.vi_numbers import read_decimal, read_integer_token, read_number

ABBREVIATIONS: dict[str, str] = {
    "UBND": "ủy ban nhân dân",
    "HĐND": "hội đồng nhân dân",
    "MTTQ": "mặt trận tổ quốc",
    "TP.HCM": "thành phố hồ chí minh",
    "TP.": "thành phố",
    "TP": "thành phố",
    "TX.": "thị xã",
    "TT.": "thị trấn",
    "BCH": "ban chỉ huy",
    "PCCC": "phòng cháy chữa cháy",
    "CSGT": "cảnh sát giao thông",
    "ATGT": "an toàn giao thông",
    "ATTP": "an toàn thực phẩm",
    "THPT": "trung học phổ thông",
    "THCS": "trung học cơ sở",
    "BHYT": "bảo hiểm y tế",
    "BHXH": "bảo hiểm xã hội",
    "CAND": "công an nhân dân",
    "QĐND": "quân đội nhân dân",
    "KT-XH": "kinh tế xã hội",
    "TW": "trung ương",
    "VN": "việt nam",
    "Đ/c": "đồng chí",
    "đ/c": "đồng chí",
    "v.v.": "vân vân",
}

UNITS: dict[str, str] = {
    "%": "phần trăm",
    "km/h": "ki lô mét một giờ",
    "km2": "ki lô mét vuông",
    "km": "ki lô mét",
    "kg": "ki lô gam",
    "m2": "mét vuông",
    "m²": "mét vuông",
    "m3": "mét khối",
    "m³": "mét khối",
    "cm": "xăng ti mét",
    "mm": "mi li mét",
    "ha": "héc ta",
    "°C": "độ xê",
    "VNĐ": "đồng",
    "VND": "đồng",
    "đ": "đồng",
    "m": "mét",
    "tấn": "tấn",
}

_DATE_CONTEXT = r"ngày|hôm|sáng|trưa|chiều|tối|đêm|mùng|mồng"
_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"

_ABBREV_RE = re.compile(
    "|".join(rf"(?<!\w){re.escape(k)}(?!\w)" if k[-1].isalnum() else rf"(?<!\w){re.escape(k)}"
             for k in sorted(ABBREVIATIONS, key=len, reverse=True))
)
_DATE_RE = re.compile(
    rf"(?<!\w)(?:(?P<pre>{_DATE_CONTEXT})\s+)?(?P<d>\d{{1,2}})/(?P<m>\d{{1,2}})"
    r"(?:/(?P<y>\d{4}))?(?![\w/])", re.IGNORECASE)
_MONTH_YEAR_RE = re.compile(r"(?<!\w)tháng\s+(?P<m>\d{1,2})/(?P<y>\d{4})(?!\w)", re.IGNORECASE)
_TIME_RE = re.compile(r"(?<![\w:])(?P<h>\d{1,2})(?:h|:)(?P<mi>\d{2})?(?:'|p)?(?![\w:])")
_UNIT_RE = re.compile(
    rf"(?P<n>{_NUM})\s?(?P<u>"
    + "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True)) + r")(?!\w)")
_RANGE_RE = re.compile(rf"(?<![\w.,])(?P<a>{_NUM})\s?[-–]\s?(?P<b>{_NUM})(?![\w.,])")
_ORDINAL_RE = re.compile(r"(?<!\w)(?P<w>thứ|tháng)\s+(?P<n>1|4)(?!\w)", re.IGNORECASE)
_NUMBER_RE = re.compile(rf"(?<!\w)-?(?:{_NUM})(?!\w)")
_SPACES_RE = re.compile(r"[ \t]+")


def normalise_vi(text: str) -> str:
    """Spell out everything a speech engine would misread; other words are left as written."""
    text = _ABBREV_RE.sub(lambda m: ABBREVIATIONS[m.group(0)], text)
    text = _MONTH_YEAR_RE.sub(_month_year, text)
    text = _DATE_RE.sub(_date, text)
    text = _TIME_RE.sub(_time, text)
    text = _UNIT_RE.sub(lambda m: f"{_number(m.group('n'))} {UNITS[m.group('u')]}", text)
    text = _RANGE_RE.sub(lambda m: f"{_number(m.group('a'))} đến {_number(m.group('b'))}", text)
    text = _ORDINAL_RE.sub(_ordinal, text)
    text = _NUMBER_RE.sub(lambda m: _number(m.group(0)), text)
    return _SPACES_RE.sub(" ", text).strip()


def _number(token: str) -> str:
    """"1.500.000" → thousands separators; "3,5" → decimal comma; "-3" → negative."""
    if token.startswith("-"):
        return "âm " + _number(token[1:])
    whole, _, fraction = token.replace(".", "").partition(",")
    return read_decimal(whole, fraction) if fraction else read_integer_token(whole)


def _month(m: int) -> str:
    return "tư" if m == 4 else read_number(m)


def _month_year(match: re.Match[str]) -> str:
    month, year = int(match.group("m")), int(match.group("y"))
    if not 1 <= month <= 12:
        return match.group(0)
    return f"tháng {_month(month)} năm {read_number(year)}"


def _date(match: re.Match[str]) -> str:
    """"ngày 2/9" → date; "2/9/2025" → date; a bare "1/2" is a fraction ("một phần hai")."""
    pre, year = match.group("pre"), match.group("y")
    day, month = int(match.group("d")), int(match.group("m"))
    if not (pre or year) or not (1 <= day <= 31 and 1 <= month <= 12):
        if pre or year:
            return match.group(0)
        return f"{read_number(day)} phần {read_number(month)}"
    words = [pre] if pre else ["ngày"]
    words += [read_number(day), "tháng", _month(month)]
    if year:
        words += ["năm", read_number(int(year))]
    return " ".join(words)


def _time(match: re.Match[str]) -> str:
    hour, minutes = int(match.group("h")), match.group("mi")
    if hour > 24 or (minutes is not None and int(minutes) > 59):
        return match.group(0)
    spoken = f"{read_number(hour)} giờ"
    if minutes is not None and int(minutes):
        spoken += f" {read_number(int(minutes))} phút"
    return spoken


def _ordinal(match: re.Match[str]) -> str:
    """"thứ 4"/"tháng 4" → "thứ tư"/"tháng tư"; "thứ 1" → "thứ nhất"."""
    word, n = match.group("w"), match.group("n")
    if n == "4":
        return f"{word} tư"
    return f"{word} nhất" if word.lower() == "thứ" else f"{word} một"
