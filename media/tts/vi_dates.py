"""Dates and times as they are read aloud: "ngày 2/9" → "ngày mùng hai tháng chín",
"7g30" → "bảy giờ ba mươi phút", "tháng 3/2026" → "tháng ba năm hai nghìn không trăm hai mươi sáu".
"""

from __future__ import annotations

import re

from media.tts.vi_numbers import read_month, read_number

_DATE_CONTEXT = r"ngày|hôm|sáng|trưa|chiều|tối|đêm|mùng|mồng"

_MONTH_YEAR_RE = re.compile(r"(?<!\w)(?P<w>tháng)\s+(?P<m>\d{1,2})/(?P<y>\d{4})(?![\w/])",
                            re.IGNORECASE)
_DATE_RE = re.compile(
    rf"(?<![\w/.,])(?:(?P<pre>{_DATE_CONTEXT})\s+)?(?:(?P<d1>\d{{1,2}})\s?[-–]\s?)?"
    r"(?P<d>\d{1,2})/(?P<m>\d{1,2})(?:/(?P<y>\d{4}))?(?![\w/])", re.IGNORECASE)
_DAY_OF_MONTH_RE = re.compile(r"(?<!\w)(?P<pre>ngày|mùng|mồng)\s+(?P<d>\d{1,2})(?=\s+tháng\b)",
                              re.IGNORECASE)
_MONTH_RE = re.compile(r"(?<!\w)(?P<w>tháng)\s+(?P<m>\d{1,2})(?![\w/.,])", re.IGNORECASE)
_TIME_RE = re.compile(
    r"(?<![\w:.,/])(?P<h>\d{1,2})(?:[hg](?P<mi>\d{2})?|:(?P<mc>\d{2}))(?:'|p)?(?![\w:])")
_FRACTION_FOLLOWS = re.compile(r"\s+số\b")
_FRACTION_AFTER = re.compile(r"(?:khoảng|chiếm|gần|hơn|bằng)\s+$", re.IGNORECASE)
_ADDRESS_RE = re.compile(
    r"(?<!\w)(?P<w>số nhà|nhà số|ngõ|ngách|hẻm|kiệt|kiệt số|hẻm số)\s+(?P<a>\d+)/(?P<b>\d+)"
    r"(?![\w/])", re.IGNORECASE)


def spell_dates(text: str) -> str:
    """Addresses ("ngõ 5/12" → "ngõ năm trên mười hai"), month/year, day/month(/year) with day
    ranges, "ngày 1 tháng 4", and "tháng 4"."""
    text = _ADDRESS_RE.sub(
        lambda m: f"{m.group('w')} {read_number(int(m.group('a')))} trên "
                  f"{read_number(int(m.group('b')))}", text)
    text = _MONTH_YEAR_RE.sub(_month_year, text)
    text = _DATE_RE.sub(_date, text)
    text = _DAY_OF_MONTH_RE.sub(_day_of_month, text)
    return _MONTH_RE.sub(_month_alone, text)


def spell_times(text: str) -> str:
    """"19h", "7g30", "19:30", "6h15'" → hours and minutes ("phút"); "h00" says only the hour."""
    return _TIME_RE.sub(_time, text)


def day_words(day: int, *, after_mung: bool = False) -> str:
    """Days 1–10 of a month are read "mùng một" ... "mùng mười"."""
    return read_number(day) if after_mung or day > 10 else f"mùng {read_number(day)}"


def _month_year(match: re.Match[str]) -> str:
    month, year = int(match.group("m")), int(match.group("y"))
    if not 1 <= month <= 12:
        return match.group(0)
    return f"{match.group('w')} {read_month(month)} năm {read_number(year)}"


def _date(match: re.Match[str]) -> str:
    """A bare "1/2" is a fraction when "số" follows ("1/2 số hộ"), after "khoảng", "chiếm"...,
    or when it is not a valid date."""
    pre, first, year = match.group("pre"), match.group("d1"), match.group("y")
    day, month = int(match.group("d")), int(match.group("m"))
    valid = 1 <= day <= 31 and 1 <= month <= 12 and (first is None or 1 <= int(first) < day)
    before = match.string[max(0, match.start() - 12):match.start()]
    if not (pre or year or first) and (
            not valid or _FRACTION_FOLLOWS.match(match.string, match.end())
            or _FRACTION_AFTER.search(before)):
        return f"{read_number(day)} phần {read_number(month)}" if month else match.group(0)
    if not valid:
        return match.group(0)
    after_mung = bool(pre) and pre.lower() in ("mùng", "mồng")
    words = [pre] if pre else (["ngày"] if year else [])
    if first is not None:
        words += [day_words(int(first), after_mung=after_mung), "đến"]
        after_mung = False
    words += [day_words(day, after_mung=after_mung), "tháng", read_month(month)]
    if year:
        words += ["năm", read_number(int(year))]
    return " ".join(words)


def _day_of_month(match: re.Match[str]) -> str:
    pre, day = match.group("pre"), int(match.group("d"))
    if not 1 <= day <= 31:
        return match.group(0)
    return f"{pre} {day_words(day, after_mung=pre.lower() != 'ngày')}"


def _month_alone(match: re.Match[str]) -> str:
    month = int(match.group("m"))
    return f"{match.group('w')} {read_month(month)}" if 1 <= month <= 12 else match.group(0)


def _time(match: re.Match[str]) -> str:
    hour = int(match.group("h"))
    minutes = match.group("mi") or match.group("mc")
    if hour > 24 or (minutes is not None and int(minutes) > 59):
        return match.group(0)
    spoken = f"{read_number(hour)} giờ"
    if minutes is not None and int(minutes):
        spoken += f" {read_number(int(minutes))} phút"
    return spoken
