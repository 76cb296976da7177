"""Every console router, in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.web.console import (
    audit,
    bulletin_survey,
    bulletins,
    device_admin,
    device_intake,
    devices,
    emergency,
    federation,
    feedback,
    inbox,
    live,
    schedules,
    signin,
    units,
    users,
    versions,
)


def console_routers() -> list[APIRouter]:
    # device_intake's /devices/new before device_admin's /devices/{device_id}
    return [signin.router, bulletins.router, bulletin_survey.router, inbox.router,
            schedules.router, emergency.router, live.router, feedback.router, federation.router,
            devices.router, device_intake.router, device_admin.router, units.router,
            audit.router, users.router, versions.router]
