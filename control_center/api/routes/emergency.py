"""API: emergency (being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/emergency", tags=["emergency"])
