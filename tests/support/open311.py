"""Open311 client keys for tests: made through the API as an administrator would."""

from __future__ import annotations

from typing import Any

import httpx


def client_key(api: httpx.Client, unit: dict[str, Any], name: str = "Ứng dụng thử") -> str:
    """A new client key for ``unit``'s subtree (``api`` signed in with MANAGE_USERS)."""
    r = api.post("/api/v1/open311/clients", json={"name": name, "unit_id": unit["id"]})
    assert r.status_code == 201, f"POST /api/v1/open311/clients -> {r.status_code} {r.text}"
    key = r.json()["api_key"]
    assert isinstance(key, str)
    return key
