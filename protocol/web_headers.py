"""The security headers the center's pages and the kiosk's local UI both send.

- Pages (``text/html``): a strict Content-Security-Policy: scripts only from the server's own
  ``/static`` (no inline script, no ``on...=`` handler), nothing from another origin, no
  plugins, no ``<base>``, no framing, forms post only to the server itself. Inline ``style``
  stays allowed: a style cannot run script or, with every fetch limited to the server itself,
  send anything elsewhere.
- Everything else (JSON, CSV, media, bundles, redirects): ``default-src 'none'; sandbox``, so a
  file opened in a tab is an inert document on a unique origin even if a browser renders it.
- Always: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: same-origin``. A response that sets one of these itself keeps its own.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Send

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
               "form-action 'self'")
FILE_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


def with_security_headers(send: Send) -> Send:
    """``send`` that adds the headers above to the response's start message."""

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

    return sending
