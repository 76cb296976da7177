"""The kiosk UI's one guard (an ASGI middleware): who may reach it and what its pages may do.

- **Host**: only the names the kiosk is reached by (``localhost``, ``127.0.0.1``, ``[::1]``,
  its configured host and ``server_names``) are served; any other ``Host`` gets 421, so a web
  page whose name an attacker points at 127.0.0.1 (DNS rebinding) cannot read the kiosk.
- **Writes**: a POST whose ``Sec-Fetch-Site`` is neither ``same-origin`` nor ``none``, or whose
  ``Origin`` is not the kiosk itself, gets 403: another site cannot start the microphone or send
  feedback through the kiosk's browser. Clients that send neither header (not a browser) pass.
- **Headers** on every response: a strict Content-Security-Policy (scripts only from the kiosk's
  own ``/static``; inline ``style`` allowed, see docs/feedback.md), ``nosniff``,
  ``X-Frame-Options: DENY`` and ``Referrer-Policy: same-origin``. A response that sets its own
  policy (training media: ``sandbox``) keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from protocol.web_headers import with_security_headers

LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")
_WILDCARDS = ("", "0.0.0.0", "::")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME_SITE = frozenset({"same-origin", "none"})


def host_name(host: str) -> str:
    """``Host`` without its port, lower-case (``[::1]:8080`` → ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0]


def allowed_names(host: str, server_names: Iterable[str]) -> frozenset[str]:
    """The names a kiosk bound to ``host`` answers to."""
    names = {*LOCAL_NAMES, *(host_name(n) for n in server_names)}
    if host not in _WILDCARDS:
        names.add(f"[{host}]" if ":" in host else host.lower())
    return frozenset(names)


class WebGuard:
    """Host check, same-origin POSTs and the security headers, for the whole kiosk UI."""

    def __init__(self, app: ASGIApp, *, names: frozenset[str]) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope["method"], headers)
        if refusal is not None:
            await refusal(scope, receive, with_security_headers(send))
            return
        await self.app(scope, receive, with_security_headers(send))

    def _refusal(self, method: str, headers: Headers) -> PlainTextResponse | None:
        host = headers.get("host", "")
        if host_name(host) not in self.names:
            return PlainTextResponse(
                "Ki-ốt không phục vụ tên này. / This kiosk does not answer to this host name.",
                status_code=421)
        if method in _SAFE_METHODS:
            return None
        fetch_site = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        if (fetch_site is not None and fetch_site not in _SAME_SITE) or (
                origin is not None and urlsplit(origin).netloc.lower() != host.lower()):
            return PlainTextResponse(
                "Yêu cầu từ trang khác bị từ chối. / A request from another site is refused.",
                status_code=403)
        return None

