"""Assemble the /api/v1 routers: public ones first, then those that need a signed-in caller.

Each protected router names the permission its callers need; routes that touch objects of
the tree also check that the object lies inside the caller's subtree.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from control_center.api.deps import permission
from control_center.api.routes import (
    auth,
    bulletins,
    devices,
    distributions,
    emergency,
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
    users,
)
from control_center.core.permissions import Permission

PROTECTED = (
    (auth.me_router, Permission.VIEW),
    (users.router, Permission.MANAGE_USERS),
    (units.router, Permission.VIEW),
    (devices.router, Permission.VIEW),
    (groups.router, Permission.MANAGE_FLEET),
    (media.router, Permission.VIEW),
    (bulletins.router, Permission.VIEW),
    (schedules.router, Permission.VIEW),
    (distributions.router, Permission.VIEW),
    (emergency.router, Permission.EMERGENCY),
    (records.router, Permission.VIEW),
    (monitoring.router, Permission.ALERTS),
    (feedback.router, Permission.FEEDBACK),
    (training.router, Permission.VIEW),
    (forum.router, Permission.VIEW),
)


def api_router() -> APIRouter:
    router = APIRouter()
    router.include_router(system.router)
    router.include_router(auth.router)
    router.include_router(media.public_router)
    router.include_router(open311.router)  # public reads; creating needs api_key
    for module_router, needed in PROTECTED:
        router.include_router(module_router, dependencies=[Depends(permission(needed))])
    return router
