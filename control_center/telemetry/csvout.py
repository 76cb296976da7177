"""CSV export of the proof-of-play report (UTF-8 with BOM so Excel shows Vietnamese right)."""

from __future__ import annotations

import csv
import io

from control_center.telemetry.play_report import REPORT_COLUMNS, PlayReport


def report_csv(report: PlayReport) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    for row in [*report.rows, report.total]:
        writer.writerow([getattr(row, c) if getattr(row, c) is not None else ""
                         for c in REPORT_COLUMNS])
    return out.getvalue()
