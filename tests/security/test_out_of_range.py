"""Ids beyond 64-bit integers (which no row can have) answer 404 or 422, never a server error:
the cases an API fuzzer found before the gates checked them (security finding 8)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.center import CenterHandle
from tests.support.tree import add_unit

HUGE = 2**70  # 1180591620717411303424: well-formed, beyond any database integer


def _message(r: httpx.Response) -> str:
    body: dict[str, Any] = r.json()
    return str(body["detail"])


def test_ids_beyond_64_bits_answer_404_or_422_with_a_message(center: CenterHandle) -> None:
    api = center.api
    unit = add_unit(api, "xa-so-lon", "commune")
    calls = [
        ("GET", f"/api/v1/events?offset={HUGE}", None, 422),
        ("GET", f"/api/v1/schedules/{HUGE}", None, 404),
        ("POST", f"/api/v1/monitoring/alerts/{HUGE}/acknowledge", {}, 404),
        ("GET", f"/api/v1/bulletins/{HUGE}", None, 404),
        ("POST", "/api/v1/users", {"username": "so-lon", "password": "mat-khau-so-lon-2026",
                                   "role": "operator", "unit_id": HUGE}, 422),
        ("POST", "/api/v1/training/officers", {"user_id": HUGE, "code": "so-lon",
                                               "role": "editor"}, 422),
        ("POST", "/api/v1/schedules", {"bulletin_id": HUGE, "targets": {"unit_ids": [unit["id"]]},
                                       "start_at": "2099-01-01T00:00:00Z"}, 422),
    ]
    for method, path, body, expected in calls:
        r = api.request(method, path, json=body)
        assert r.status_code == expected, f"{method} {path}: {r.status_code} {r.text[:300]}"
        assert str(HUGE) in _message(r) or "out of range" in _message(r) \
            or "does not exist" in _message(r), f"{method} {path}: {r.text[:300]}"


def test_a_page_with_an_id_beyond_64_bits_is_not_found(center: CenterHandle) -> None:
    r = httpx.get(f"{center.base_url}/console/bulletins/{HUGE}", follow_redirects=False)
    assert r.status_code in (303, 307), r.status_code  # anonymous: sign in first, no 500
    r = center.api.get(f"/api/v1/units/{HUGE}/devices")
    assert r.status_code == 404, r.text
