"""Lay a week's occurrences out as a grid: seven day columns, one row per hour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from control_center.services.calendar import Entry

WEEKDAYS = (("Thứ 2", "Mon"), ("Thứ 3", "Tue"), ("Thứ 4", "Wed"), ("Thứ 5", "Thu"),
            ("Thứ 6", "Fri"), ("Thứ 7", "Sat"), ("Chủ nhật", "Sun"))
FIRST_HOUR, LAST_HOUR = 5, 21
"""Hours always shown; earlier or later rows appear when something plays then."""


@dataclass
class Grid:
    """The week's cells: ``cells[(day, hour)]`` lists the entries starting in that hour."""

    monday: date
    today: date
    hours: list[int]
    cells: dict[tuple[date, int], list[Entry]] = field(default_factory=dict)

    @property
    def days(self) -> list[tuple[date, str, str]]:
        """(date, Vietnamese name, English name) of each day, Monday first."""
        return [(self.monday + timedelta(days=i), vi, en) for i, (vi, en) in enumerate(WEEKDAYS)]

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    def at(self, day: date, hour: int) -> list[Entry]:
        return self.cells.get((day, hour), [])


def build_grid(entries: Sequence[Entry], *, monday: date, today: date) -> Grid:
    """Place each entry in its local day and hour; rows span 05:00–21:00 or wider."""
    hours = [e.start.hour for e in entries]
    first = min([FIRST_HOUR, *hours])
    last = max([LAST_HOUR, *hours])
    grid = Grid(monday=monday, today=today, hours=list(range(first, last + 1)))
    for entry in entries:
        grid.cells.setdefault((entry.start.date(), entry.start.hour), []).append(entry)
    return grid
