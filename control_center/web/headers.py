"""The security headers of every response the center sends, set in one place (an ASGI
middleware wired in ``control_center.main``).

- Pages (``text/html``): a strict Content-Security-Policy: scripts only from the center's own
  ``/static`` (no inline script, no ``on...=`` handler), nothing from another origin, no
  plugins, no ``<base>``, no framing, forms post only to the center. Inline ``style`` stays
  allowed: the pages use ``style=`` attributes and ``<style>`` blocks, and a style cannot run
  script or, with every fetch limited to the center itself, send anything elsewhere.
- Everything else (JSON, CSV, media, bundles, redirects): ``default-src 'none'; sandbox``, so a
  file opened in a tab is an inert document on a unique origin even if a browser renders it.
- Always: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: same-origin``.

A response that sets its own Content-Security-Policy keeps it (the API reference page at
``/docs``, whose inline script is allowed by its hash).
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
               "form-action 'self'")
FILE_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_SWAGGER_CDN = "https://cdn.jsdelivr.net"


class SecurityHeaders:
    """Adds the policy and the other security headers to each HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                kind = headers.get("content-type", "")
                headers.setdefault("Content-Security-Policy",
                                   PAGE_POLICY if kind.startswith("text/html") else FILE_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, sending)


def api_docs_page(openapi_url: str, title: str) -> HTMLResponse:
    """FastAPI's Swagger UI page under a policy of its own: its scripts and styles come from
    the CDN FastAPI names, and its one inline script is allowed by its SHA-256 only."""
    page = get_swagger_ui_html(openapi_url=openapi_url, title=title)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(bytes(page.body).decode()))
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src {_SWAGGER_CDN} {hashes}; "
        f"style-src {_SWAGGER_CDN} 'unsafe-inline'; "
        "img-src 'self' data: https://fastapi.tiangolo.com; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
    return page
