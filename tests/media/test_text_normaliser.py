"""The Vietnamese normaliser, word by word (no audio involved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from media.tts import normalise_vi
from media.tts.vi_numbers import read_digits, read_number


@pytest.mark.parametrize(("n", "words"), [
    (0, "không"), (4, "bốn"), (10, "mười"), (11, "mười một"), (14, "mười bốn"),
    (15, "mười lăm"), (20, "hai mươi"), (21, "hai mươi mốt"), (24, "hai mươi tư"),
    (25, "hai mươi lăm"), (55, "năm mươi lăm"), (100, "một trăm"), (101, "một trăm linh một"),
    (105, "một trăm linh năm"), (110, "một trăm mười"), (115, "một trăm mười lăm"),
    (1000, "một nghìn"), (1005, "một nghìn không trăm linh năm"),
    (1050, "một nghìn không trăm năm mươi"), (2025, "hai nghìn không trăm hai mươi lăm"),
    (10_000, "mười nghìn"), (250_000, "hai trăm năm mươi nghìn"),
    (1_500_000, "một triệu năm trăm nghìn"), (2_000_500, "hai triệu năm trăm"),
    (1_000_000_000, "một tỷ"), (3_000_000_021, "ba tỷ không trăm hai mươi mốt"),
])
def test_numbers(n: int, words: str) -> None:
    assert read_number(n) == words


def test_digits_and_negative() -> None:
    assert read_digits("0912") == "không chín một hai"
    assert read_number(-7) == "âm bảy"


def _load_cases() -> list[pytest.ParameterSet]:
    """The case table: ``# group: ...`` opens a group, ``input<TAB>expected`` is a case."""
    cases: list[pytest.ParameterSet] = []
    group = ""
    for number, line in enumerate(CASES.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("##") or not line.strip():
            continue
        if line.startswith("# "):
            group = line[2:].split(":", 1)[0]
            continue
        text, spoken = line.split("\t")
        cases.append(pytest.param(text, spoken, id=f"{group}-{number}"))
    return cases


CASES = Path(__file__).with_name("normaliser_cases.tsv")
TABLE = _load_cases()


def test_the_table_covers_real_notices() -> None:
    groups = {str(case.id).rsplit("-", 1)[0] for case in TABLE}
    assert len(TABLE) >= 120
    assert {"dates", "times", "phones", "documents", "abbreviations", "places", "ordinals",
            "units", "money", "numbers", "sentences"} <= groups


@pytest.mark.parametrize(("text", "spoken"), TABLE)
def test_case_table(text: str, spoken: str) -> None:
    assert normalise_vi(text) == spoken


def test_spoken_text_has_no_digits_left() -> None:
    for case in TABLE:
        text = str(case.values[0])
        assert not any(ch.isdigit() for ch in normalise_vi(text)), text
