"""The center's own scripts (``control_center/web/static``), served at ``/static``: the only
scripts its pages may run (see ``web.headers``)."""

from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/static"


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
