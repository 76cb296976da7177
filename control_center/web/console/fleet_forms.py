"""What the unit and device pages share: a service's refusal said in Vietnamese first, the
units a form may choose, and the checks of a unit's and a device's fields."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.errors import CenterError
from control_center.services.calendar import subtree_units
from control_center.web.console.common import FormState
from control_center.web.labels import ERROR_PREFIXES

_LINE = re.compile(r"^line (\d+): ")
INDENT = "\u00a0\u00a0\u00a0"


def explain(exc: CenterError) -> str:
    """A service's message for a page: kept when already bilingual ("vi / en"), else after
    what went wrong in Vietnamese; a CSV line number is named in both languages."""
    message = str(exc)
    if " / " in message:
        return message
    if found := _LINE.match(message):
        return f"Dòng {found.group(1)} / {message}"
    return f"{ERROR_PREFIXES.get(exc.status_code, 'Không thực hiện được')} / {message}"


def open_units(session: Session, actor: Actor, *,
               leave_out: set[int] | None = None) -> list[tuple[str, str]]:
    """(id, indented name) of the units of the actor's subtree that take new units and
    devices (not retired), in tree order, without ``leave_out``."""
    return [(str(unit.id), INDENT * depth + f"{unit.name} ({unit.code})")
            for unit, depth in subtree_units(session, actor=actor)
            if unit.retired_at is None and unit.id not in (leave_out or set())]


def chosen_unit(form: FormState, name: str, raw: str, allowed: list[tuple[str, str]]) -> int:
    """The unit id picked in a select, or 0 with an error beside the field."""
    if raw.strip() not in {value for value, _ in allowed}:
        form.error(name, "Chọn một đơn vị đang hoạt động trong phạm vi của bạn / choose a unit "
                         "in service within your area")
        return 0
    return int(raw)


def text_field(form: FormState, name: str, raw: str, *, limit: int, vi: str, en: str) -> str:
    """A required text field, stripped; an error beside it when empty or too long."""
    value = raw.strip()
    if not value:
        form.error(name, f"Nhập {vi} / enter the {en}")
    elif len(value) > limit:
        form.error(name, f"Tối đa {limit} ký tự / at most {limit} characters")
    return value


def coordinate(form: FormState, name: str, raw: str, *, bound: float) -> float | None:
    """An optional latitude or longitude in decimal degrees."""
    if not raw.strip():
        return None
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = bound + 1
    if not -bound <= value <= bound:
        form.error(name, f"Nhập số thập phân từ {-bound:g} đến {bound:g} / a decimal number "
                         f"from {-bound:g} to {bound:g}")
        return None
    return value
