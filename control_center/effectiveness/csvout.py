"""The effectiveness table as CSV (formula-safe, see ``core.csv_export``): one line per unit
row, the chosen unit's (the total) first; columns in docs/effectiveness.md."""

from __future__ import annotations

from control_center.core.csv_export import csv_text
from control_center.effectiveness.figures import NO_CATEGORY, EffectivenessReport, UnitFigures
from protocol.base import Priority

FIXED = ("unit_id", "unit_code", "unit_name", "level", "depth", "minutes",
         *(f"minutes_{p.value}" for p in Priority), "targeted_devices", "devices_played",
         "coverage_pct", "devices", "availability_pct", "feedback_received",
         "feedback_answered", "feedback_answered_on_time", "feedback_overdue", "heard_answers",
         "training_assigned", "training_completed", "training_passed",
         "training_completion_pct", "training_pass_pct")


def _category_column(category: str) -> str:
    return "minutes_uncategorised" if category == NO_CATEGORY else f"minutes_category:{category}"


def _fixed(row: UnitFigures) -> list[object]:
    return [row.unit_id, row.unit_code, row.unit_name, row.level, row.depth, row.minutes,
            *(row.minutes_by_priority.get(p.value, 0.0) for p in Priority),
            row.targeted_devices, row.devices_played, row.coverage_pct, row.devices,
            row.availability_pct, row.feedback.received, row.feedback.answered,
            row.feedback.answered_on_time, row.feedback.overdue, row.heard_answers,
            row.training_assigned, row.training_completed, row.training_passed,
            row.training_completion_pct, row.training_pass_pct]


def effectiveness_csv(report: EffectivenessReport) -> str:
    header = [*FIXED, *map(_category_column, report.broadcast_categories),
              *(f"feedback_received_category:{c}" for c in report.feedback_categories)]
    return csv_text(header, (
        [*_fixed(row), *(row.minutes_by_category.get(c, 0.0) for c in report.broadcast_categories),
         *(row.feedback_by_category[c].received if c in row.feedback_by_category else 0
           for c in report.feedback_categories)]
        for row in report.rows))
