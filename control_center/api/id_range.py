"""Integer parameters beyond what the database can hold answer like any unknown value.

An id such as ``/schedules/12179281289458999099392`` is a well-formed integer that no row can
have (SQLite and PostgreSQL keep 64-bit integers); without this check the database driver
raises an overflow and the caller sees a server error. Path ids out of range answer 404 (no
such object), query integers out of range 422 naming the parameter.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from fastapi import Request

from control_center.errors import InvalidInput, NotFound

DB_INT_MAX = 2**63 - 1


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return int in get_args(annotation)
    return False


def _too_big(raw: str) -> bool:
    try:
        return abs(int(raw)) > DB_INT_MAX
    except ValueError:
        return False  # not an integer at all: the request's validation says so


def check_int_params(request: Request) -> None:
    """Raise NotFound / InvalidInput for an integer path / query parameter out of range."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    for field in dependant.path_params:
        raw = request.path_params.get(field.alias)
        if raw is not None and _is_int(field.field_info.annotation) and _too_big(str(raw)):
            raise NotFound(f"{field.alias} {raw} does not exist")
    for field in dependant.query_params:
        if not _is_int(field.field_info.annotation):
            continue
        for raw in request.query_params.getlist(field.alias):
            if _too_big(raw):
                raise InvalidInput(f"{field.alias}={raw} is out of range: give a whole number "
                                   f"between {-DB_INT_MAX} and {DB_INT_MAX}")
