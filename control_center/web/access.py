"""The pages' gate: the permission ``core.access.ROUTES`` names for each console, monitoring
and training page, checked before the page's handler runs (sign-in pages are public)."""

from __future__ import annotations

from fastapi import Request

from control_center.api.deps import CenterDep, require_root_unit
from control_center.api.id_range import check_int_params
from control_center.core.access import Open, access_for
from control_center.core.permissions import Permission
from control_center.web.shell import page_viewer


def page_access(request: Request, center: CenterDep) -> None:
    """Send an anonymous visitor to sign in; answer 403 to a role without the permission, and
    to a user outside the root units on a center-wide page."""
    access = access_for(request.method, request.scope["route"].path_format)
    if access.need is not Open.PUBLIC:
        viewer = page_viewer(request, center)
        if isinstance(access.need, Permission):
            viewer.actor.require(access.need)
        if access.center_wide and viewer.actor.role is not None:  # a console user
            require_root_unit(center, viewer.actor)
    check_int_params(request)
