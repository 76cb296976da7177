"""CSV export of the proof-of-play report (formula-safe, see ``core.csv_export``)."""

from __future__ import annotations

from control_center.core.csv_export import csv_text
from control_center.telemetry.play_report import REPORT_COLUMNS, PlayReport


def report_csv(report: PlayReport) -> str:
    return csv_text(REPORT_COLUMNS, ([getattr(row, c) for c in REPORT_COLUMNS]
                                     for row in [*report.rows, report.total]))
