"""Assemble the /api/v1 routers behind one gate (``deps.route_access``) that enforces the
permission ``core.access.ROUTES`` names for each route; routes that touch objects of the tree
also check that the object lies inside the caller's subtree.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from control_center.api.deps import route_access
from control_center.api.routes import (
    auth,
    brokers,
    bulletins,
    cap,
    device_lifecycle,
    devices,
    distributions,
    emergency,
    enrol,
    federation,
    feedback,
    forum,
    groups,
    live_devices,
    live_sessions,
    live_source,
    media,
    monitoring,
    open311,
    records,
    releases,
    reports,
    schedules,
    signing_keys,
    surveys,
    system,
    training,
    units,
    users,
)
from control_center.core.access import API, route_key

ROUTERS = (
    system.router, auth.router, auth.me_router, media.public_router, open311.router,
    releases.public_router, releases.router,  # before devices: GET /devices/versions
    enrol.router, users.router, units.router, device_lifecycle.router, devices.router,
    groups.router, media.router, bulletins.router, surveys.router,
    schedules.router, distributions.router, emergency.router, records.router, monitoring.router,
    reports.router,
    feedback.router, training.router, forum.router, signing_keys.router, brokers.router,
    live_sessions.router, live_devices.router, live_source.router, cap.router,
    federation.router,
)


def api_router() -> APIRouter:
    router = APIRouter()
    for module_router in ROUTERS:
        router.include_router(module_router, dependencies=[Depends(route_access)])
    return router


def route_keys(routers: tuple[APIRouter, ...] | list[APIRouter], prefix: str) -> set[str]:
    """``"METHOD /path"`` of every route of ``routers`` mounted under ``prefix``."""
    keys: set[str] = set()
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                raise TypeError(f"{route!r}: mount sub-routers here, not inside route modules")
            methods = route.methods or set()
            keys |= {route_key(method, prefix + route.path_format) for method in methods}
    return keys


def api_route_keys() -> set[str]:
    return route_keys(ROUTERS, API)
