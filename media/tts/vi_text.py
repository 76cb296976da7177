"""Normalise Vietnamese text for a speech engine, as a person reads a commune notice aloud.

The output keeps the input's own words and punctuation as written; every phone number, document
number, abbreviation, date, time, range, unit, ordinal and number becomes lower-case words,
separated by single spaces. The rules run in order, most specific first (a phone number before
a number, a date before a fraction, a range before its times). The cases it is held to are in
``tests/media/normaliser_cases.tsv``.
"""

from __future__ import annotations

import re

from media.tts.vi_codes import (
    spell_abbreviations,
    spell_documents,
    spell_emergency_numbers,
    spell_phones,
)
from media.tts.vi_dates import spell_dates, spell_times
from media.tts.vi_numbers import (
    read_decimal,
    read_integer_token,
    read_number,
    read_ordinal,
    read_roman,
)
from media.tts.vi_words import PER, UNITS

_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
_RANGE_RE = re.compile(
    rf"(?<![\w.,/-])(?P<a>(?:{_NUM})(?:[hg](?:\d{{2}})?'?|%|°C)?)\s?[-–]\s?(?=\d)")
_UNIT_RE = re.compile(
    rf"(?P<n>-?(?:{_NUM}))\s?(?P<u>"
    + "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True)) + r")(?!\w)")
_PER_RE = re.compile(
    r"(?<=\w)/(?P<w>" + "|".join(sorted(PER, key=len, reverse=True)) + r")(?!\w)")
_ORDINAL_RE = re.compile(
    r"(?<!\w)(?P<w>thứ)\s+(?P<n>\d{1,2})(?:\s+đến\s+(?P<m>\d{1,2}))?(?![\w/])", re.IGNORECASE)
_LETTER_DIGIT_RE = re.compile(r"(?<=[A-ZĐ])(?=\d)|(?<=\d)(?=[A-ZĐ])")
_COUNTED_RE = re.compile(
    r"(?<!\w)(?P<w>quý|khóa|khoá|thứ|đợt|giai đoạn|phần|chương|thế kỷ)\s+"
    r"(?P<r>[IVXLC]+|\d{1,2}(?=/))(?:/(?P<y>\d{4}))?(?![\w/])", re.IGNORECASE)
_SIZE_RE = re.compile(r"(?<![\w.,])(?P<a>\d+)x(?P<b>\d+)(?!\w)")
_NUMBER_RE = re.compile(rf"(?<![\w,.])-?(?:{_NUM})(?!\w|[.,]\d)")
_SPACES_RE = re.compile(r"[ \t]+")


def normalise_vi(text: str) -> str:
    """Spell out everything a speech engine would misread; other words are left as written."""
    text = spell_phones(text)
    text = spell_documents(text)
    text = _LETTER_DIGIT_RE.sub(" ", text)
    text = spell_abbreviations(text)
    text = spell_emergency_numbers(text)
    text = spell_dates(text)
    text = _COUNTED_RE.sub(_counted, text)
    text = _RANGE_RE.sub(lambda m: f"{m.group('a')} đến ", text)
    text = spell_times(text)
    text = _UNIT_RE.sub(lambda m: f"{_number(m.group('n'))} {UNITS[m.group('u')]}", text)
    text = _PER_RE.sub(lambda m: f" một {PER[m.group('w')]}", text)
    text = _ORDINAL_RE.sub(_ordinal, text)
    text = _SIZE_RE.sub(lambda m: f"{m.group('a')} nhân {m.group('b')}", text)
    text = _NUMBER_RE.sub(lambda m: _number(m.group(0)), text)
    return _SPACES_RE.sub(" ", text).strip()


def _number(token: str) -> str:
    """"1.500.000" → thousands separators; "3,5" → decimal comma; "-3" → negative."""
    if token.startswith("-"):
        return "âm " + _number(token[1:])
    whole, _, fraction = token.replace(".", "").partition(",")
    return read_decimal(whole, fraction) if fraction else read_integer_token(whole)


def _ordinal(match: re.Match[str]) -> str:
    """"thứ 4" → "thứ tư"; "thứ 2-6" (a range, by then "thứ 2 đến 6") → "thứ hai đến thứ sáu"."""
    word, last = match.group("w"), match.group("m")
    spoken = f"{word} {read_ordinal(int(match.group('n')))}"
    return f"{spoken} đến {word} {read_ordinal(int(last))}" if last else spoken


def _counted(match: re.Match[str]) -> str:
    """"Quý II", "khóa XX", "lần thứ XIII", "quý 3/2026": Roman numerals and quarters of a year."""
    word, numeral, year = match.group("w"), match.group("r"), match.group("y")
    value = int(numeral) if numeral.isdigit() else read_roman(numeral)
    if value is None or (numeral.isdigit() and word.lower() != "quý"):
        return match.group(0)
    spoken = read_ordinal(value) if word.lower() == "thứ" else read_number(value)
    tail = f" năm {read_number(int(year))}" if year else ""
    return f"{word} {spoken}{tail}"
