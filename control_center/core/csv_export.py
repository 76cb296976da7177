"""CSV files people open in a spreadsheet: UTF-8 with a byte order mark (so Vietnamese reads
right), CRLF rows, and no cell a spreadsheet would run as a formula.

Formula injection (OWASP "CSV Injection"): a text cell beginning with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading apostrophe, so ``=HYPERLINK(...)`` in a
bulletin title or a unit name arrives as the text ``'=HYPERLINK(...)``. Numbers are written as
they are (a negative number is not a formula).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str | int | float:
    """``value`` as a cell: None empty, numbers unchanged, text defused when it could run."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The whole file: a BOM, the header, then every row, each cell through ``safe_cell``."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return out.getvalue()
