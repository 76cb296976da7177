"""The security headers of every response the center sends, set in one place (an ASGI
middleware wired in ``control_center.main``); the policies themselves are shared with the
kiosk's UI in ``protocol.web_headers`` (a strict page policy: scripts only from ``/static``;
an inert sandbox for everything else; ``nosniff``, no framing, same-origin referrers).

A response that sets its own Content-Security-Policy keeps it (the API reference page at
``/docs``, whose inline script is allowed by its hash).
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from protocol.web_headers import with_security_headers

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

        await self.app(scope, receive, with_security_headers(send))


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
