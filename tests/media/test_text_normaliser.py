"""The Vietnamese normaliser, word by word (no audio involved)."""

from __future__ import annotations

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


@pytest.mark.parametrize(("text", "spoken"), [
    ("17h30 ngày 2/9", "mười bảy giờ ba mươi phút ngày hai tháng chín"),
    ("UBND xã", "ủy ban nhân dân xã"),
    ("HĐND huyện", "hội đồng nhân dân huyện"),
    ("TP. Hà Nội", "thành phố Hà Nội"),
    ("đạt 85%", "đạt tám mươi lăm phần trăm"),
    ("lúc 7:05 sáng", "lúc bảy giờ năm phút sáng"),
    ("từ 8h đến 11h", "từ tám giờ đến mười một giờ"),
    ("ngày 15/10/2025", "ngày mười lăm tháng mười năm hai nghìn không trăm hai mươi lăm"),
    ("1/5/2026", "ngày một tháng năm năm hai nghìn không trăm hai mươi sáu"),
    ("tháng 4/2025", "tháng tư năm hai nghìn không trăm hai mươi lăm"),
    ("sáng thứ 4", "sáng thứ tư"),
    ("1/2 số hộ", "một phần hai số hộ"),
    ("giá 1.500.000 đồng", "giá một triệu năm trăm nghìn đồng"),
    ("mưa 120mm", "mưa một trăm hai mươi mi li mét"),
    ("35°C", "ba mươi lăm độ xê"),
    ("3,5 km", "ba phẩy năm ki lô mét"),
    ("2-3 ngày", "hai đến ba ngày"),
    ("gọi 0912345678", "gọi không chín một hai ba bốn năm sáu bảy tám"),
    ("năm 105 tuổi", "năm một trăm linh năm tuổi"),
])
def test_phrases(text: str, spoken: str) -> None:
    assert normalise_vi(text).split() == spoken.split()


def test_a_bulletin_word_by_word() -> None:
    text = ("UBND xã Tân Phú thông báo: 17h30 ngày 2/9, HĐND họp tại nhà văn hóa. "
            "Tỷ lệ tiêm chủng đạt 95%, còn 21 hộ chưa đăng ký.")
    expected = ("ủy ban nhân dân xã Tân Phú thông báo: mười bảy giờ ba mươi phút ngày hai "
                "tháng chín, hội đồng nhân dân họp tại nhà văn hóa. Tỷ lệ tiêm chủng đạt chín "
                "mươi lăm phần trăm, còn hai mươi mốt hộ chưa đăng ký.")
    assert normalise_vi(text).split() == expected.split()
    assert not any(ch.isdigit() for ch in normalise_vi(text))
