"""Assemble the /api/v1 routers: public ones first, then the token-protected ones."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from control_center.api.deps import require_token
from control_center.api.routes import (
    bulletins,
    devices,
    feedback,
    forum,
    groups,
    media,
    monitoring,
    open311,
    records,
    schedules,
    system,
    training,
    units,
)


def api_router() -> APIRouter:
    router = APIRouter()
    router.include_router(system.router)
    router.include_router(media.public_router)
    router.include_router(open311.router)  # public reads; creating needs api_key
    protected = APIRouter(dependencies=[Depends(require_token)])
    for module in (units, devices, groups, media, bulletins, schedules, records, monitoring,
                   feedback, training, forum):
        protected.include_router(module.router)
    router.include_router(protected)
    return router
