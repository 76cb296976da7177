"""Console pages: schedules (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.web.console.common import PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
