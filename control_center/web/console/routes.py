"""Every console router, in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.web.console import (
    audit,
    bulletins,
    devices,
    emergency,
    inbox,
    schedules,
    signin,
    users,
)


def console_routers() -> list[APIRouter]:
    return [signin.router, bulletins.router, inbox.router, schedules.router, emergency.router,
            devices.router, audit.router, users.router]
