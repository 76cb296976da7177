"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool

from control_center.api.errors import describe_errors, install_error_handlers
from control_center.api.router import api_route_keys, api_router, route_keys
from control_center.api.routes import cap_feed
from control_center.api.routes.system import health_router
from control_center.config import Settings, get_settings
from control_center.core.access import API, unlisted
from control_center.web.access import page_access
from control_center.web.console.routes import console_routers
from control_center.web.effectiveness import router as effectiveness_pages
from control_center.web.headers import SecurityHeaders, api_docs_page
from control_center.web.pages import router as monitor_pages
from control_center.web.shell import install_page_handlers
from control_center.web.static_files import STATIC_PATH, static_files
from control_center.web.training.forum import router as forum_pages
from control_center.web.training.study import router as training_pages
from control_center.workers.runtime import Center
from protocol.base import utc_now

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    """Build the app; the lifespan starts the center (migrations, MQTT, refresher)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        center = Center(settings, clock=clock)
        await run_in_threadpool(center.start)
        app.state.center = center
        try:
            yield
        finally:
            await run_in_threadpool(center.stop)

    title = "Thông tin cơ sở — control center"
    openapi_url = "/api/v1/openapi.json"
    app = FastAPI(
        title=title,
        version="1",
        openapi_url=openapi_url,
        docs_url=None,  # served below under a policy of its own
        redoc_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(SecurityHeaders)
    app.add_api_route("/docs", lambda: api_docs_page(openapi_url, f"{title} - Swagger UI"),
                      include_in_schema=False)
    app.mount(STATIC_PATH, static_files(), name="static")
    install_error_handlers(app)
    generated = app.openapi
    app.openapi = lambda: describe_errors(generated())  # type: ignore[method-assign]
    install_page_handlers(app)
    app.include_router(api_router(), prefix=API)
    app.include_router(health_router)
    app.include_router(cap_feed.router)  # public, as CAP feeds are
    pages = [monitor_pages, effectiveness_pages, training_pages, forum_pages, *console_routers()]
    for router in pages:
        app.include_router(router, dependencies=[Depends(page_access)])
    _check_access_table(api_route_keys() | route_keys([health_router, cap_feed.router, *pages], ""))
    return app


def app_from_environment() -> FastAPI:
    """The app with settings from TT_* variables: what each API worker process of
    ``serve --workers N`` builds (uvicorn imports it by name)."""
    return create_app(get_settings())


def _check_access_table(routes: set[str]) -> None:
    """Refuse to build an app with a route nobody gave a permission (or a stale entry)."""
    missing, stale = unlisted(routes)
    if missing or stale:
        raise RuntimeError("control_center/core/access.py ROUTES is out of date: "
                           f"missing {missing}, naming no route {stale}")
