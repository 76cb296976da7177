"""Sign-in for the pages: the API token once (form or ``?token=``), then an HttpOnly cookie.

The cookie holds an HMAC of the token, not the token itself; it is ``SameSite=Strict`` (a
form posted from another site carries no cookie) and limited to ``/monitor``. Users and roles
replace this when the accounts issue lands.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request, Response

from control_center.security import token_matches

COOKIE = "tt_pages"
MAX_AGE_S = 12 * 3600


def cookie_value(api_token: str) -> str:
    return hmac.new(api_token.encode(), b"tt-pages-v1", hashlib.sha256).hexdigest()


def signed_in(request: Request, api_token: str) -> bool:
    held = request.cookies.get(COOKIE, "")
    return bool(held) and hmac.compare_digest(held, cookie_value(api_token))


def token_ok(candidate: str, api_token: str) -> bool:
    return bool(candidate) and token_matches(candidate, api_token)


def sign_in(response: Response, request: Request, api_token: str) -> None:
    response.set_cookie(COOKIE, cookie_value(api_token), max_age=MAX_AGE_S, path="/monitor",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/monitor")
