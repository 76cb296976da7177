"""Subtotals: every unit's row is its own figures plus its children's rows, so a parent row
is the sum of its subtree and the chosen unit's row the total; then the shares."""

from __future__ import annotations

from collections.abc import Mapping

from control_center.effectiveness.figures import FeedbackCounts, UnitFigures, pct


def _add_to(parent: UnitFigures, child: UnitFigures) -> None:
    parent.minutes += child.minutes
    for key, value in child.minutes_by_category.items():
        parent.minutes_by_category[key] = parent.minutes_by_category.get(key, 0.0) + value
    for key, value in child.minutes_by_priority.items():
        parent.minutes_by_priority[key] = parent.minutes_by_priority.get(key, 0.0) + value
    parent.targeted_devices += child.targeted_devices
    parent.devices_played += child.devices_played
    parent.devices += child.devices
    parent.buckets_heard += child.buckets_heard
    parent.buckets_expected += child.buckets_expected
    parent.feedback.add(child.feedback)
    for key, counts in child.feedback_by_category.items():
        parent.feedback_by_category.setdefault(key, FeedbackCounts()).add(counts)
    parent.heard_answers += child.heard_answers
    mine = {(h.center_id, h.bulletin_id, h.question_id): h for h in parent.heard}
    for h in child.heard:
        found = mine.get((h.center_id, h.bulletin_id, h.question_id))
        if found is None:
            parent.heard.append(h.model_copy(update={"counts": list(h.counts)}))
        else:
            found.counts = [a + b for a, b in zip(found.counts, h.counts, strict=True)]
    parent.training_assigned += child.training_assigned
    parent.training_completed += child.training_completed
    parent.training_passed += child.training_passed


def _finish(row: UnitFigures, *, availability: bool) -> None:
    row.minutes = round(row.minutes, 2)
    row.minutes_by_category = {k: round(v, 2) for k, v in sorted(row.minutes_by_category.items())}
    row.minutes_by_priority = {k: round(v, 2) for k, v in sorted(row.minutes_by_priority.items())}
    row.coverage_pct = pct(row.devices_played, row.targeted_devices)
    row.availability_pct = pct(row.buckets_heard, row.buckets_expected) if availability else None
    row.feedback_by_category = dict(sorted(row.feedback_by_category.items()))
    row.heard.sort(key=lambda h: (h.center_id or "", h.bulletin_id, h.question_id))
    for h in row.heard:
        h.shares_pct = [pct(c, h.answers) or 0.0 for c in h.counts]
    row.training_completion_pct = pct(row.training_completed, row.training_assigned)
    row.training_pass_pct = pct(row.training_passed, row.training_assigned)


def roll_up(own: Mapping[int, UnitFigures], *, root_id: int,
            availability: bool) -> list[UnitFigures]:
    """The rows of ``root_id``'s subtree, depth first (children by code), each summed over
    its subtree; ``own`` holds each unit's own figures and is changed in place."""
    children: dict[int, list[UnitFigures]] = {}
    for row in own.values():
        if row.unit_id != root_id and row.parent_id is not None:
            children.setdefault(row.parent_id, []).append(row)
    ordered: list[UnitFigures] = []

    def visit(row: UnitFigures, depth: int) -> None:
        row.depth = depth
        ordered.append(row)
        for child in sorted(children.get(row.unit_id, []), key=lambda r: r.unit_code):
            visit(child, depth + 1)
            _add_to(row, child)
        _finish(row, availability=availability)

    visit(own[root_id], 0)
    return ordered
