"""The forum through the API and the pages: visibility by subtree (a province's forum is not
readable from another province), unread markers, and moderation (pin, lock, hide)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.support.center import CenterHandle
from tests.training.helpers import as_officer, officer, ok, unit

pytestmark = pytest.mark.integration


@contextmanager
def _page_client(center: CenterHandle, officer: dict[str, Any]) -> Iterator[httpx.Client]:
    """A client signed in to the pages as the officer's user (their session cookie)."""
    with httpx.Client(base_url=center.base_url, follow_redirects=True, timeout=10,
                      cookies={"tt_session": officer["token"]}) as client:
        yield client


def test_forum_visibility_unread_and_moderation(center: CenterHandle) -> None:
    api = center.api
    nation = unit(api, "central")
    prov_a, prov_b = unit(api, "province", nation), unit(api, "province", nation)
    commune_a = unit(api, "commune", prov_a)
    editor_a = officer(api, commune_a, name="Lê Văn An")
    editor_b = officer(api, prov_b, name="Phạm Thị Bích")
    mod_a = officer(api, prov_a, role="moderator", name="Hoàng Minh Châu")
    cat = {}
    for key, u, name in (("nation", nation, "Diễn đàn toàn quốc"),
                         ("a", prov_a, "Diễn đàn tỉnh A"), ("b", prov_b, "Diễn đàn tỉnh B")):
        cat[key] = ok(api.post("/api/v1/forum/categories",
                               json={"unit_id": u["id"], "name": name}))["id"]

    visible = ok(api.get("/api/v1/forum/categories", headers=as_officer(editor_a)))["items"]
    assert {c["id"] for c in visible} == {cat["nation"], cat["a"]}
    secret = ok(api.post(f"/api/v1/forum/categories/{cat['b']}/threads",
                         headers=as_officer(editor_b),
                         json={"title": "Lịch trực bão tỉnh B", "body": "Nội bộ tỉnh B"}))
    for path in (f"/api/v1/forum/categories/{cat['b']}/threads",
                 f"/api/v1/forum/threads/{secret['id']}"):
        assert api.get(path, headers=as_officer(editor_a)).status_code == 404
    r = api.post(f"/api/v1/forum/threads/{secret['id']}/posts", headers=as_officer(editor_a),
                 json={"body": "xin chào"})
    assert r.status_code == 404
    r = api.post(f"/api/v1/forum/categories/{cat['b']}/threads", headers=as_officer(editor_a),
                 json={"title": "x", "body": "y"})
    assert r.status_code == 404

    # Unread markers: a national thread by B is unread for A until A opens it.
    national = ok(api.post(f"/api/v1/forum/categories/{cat['nation']}/threads",
                           headers=as_officer(editor_b),
                           json={"title": "Kinh nghiệm viết bản tin", "body": "Mời chia sẻ"}))

    def unread_of(o: dict[str, object], category: int) -> dict[int, bool]:
        items = ok(api.get(f"/api/v1/forum/categories/{category}/threads",
                           headers=as_officer(o)))["items"]
        return {t["id"]: t["unread"] for t in items}

    assert unread_of(editor_a, cat["nation"]) == {national["id"]: True}
    assert unread_of(editor_b, cat["nation"]) == {national["id"]: False}  # the author's own
    thread = ok(api.get(f"/api/v1/forum/threads/{national['id']}", headers=as_officer(editor_a)))
    assert [p["body"] for p in thread["posts"]] == ["Mời chia sẻ"]
    assert unread_of(editor_a, cat["nation"]) == {national["id"]: False}
    ok(api.post(f"/api/v1/forum/threads/{national['id']}/posts", headers=as_officer(editor_b),
                json={"body": "Câu ngắn, nhắc lại giờ."}))
    assert unread_of(editor_a, cat["nation"]) == {national["id"]: True}

    # Moderation in province A's forum by A's moderator; editors cannot moderate.
    first = ok(api.post(f"/api/v1/forum/categories/{cat['a']}/threads",
                        headers=as_officer(editor_a), json={"title": "Một", "body": "1"}))
    second = ok(api.post(f"/api/v1/forum/categories/{cat['a']}/threads",
                         headers=as_officer(editor_a), json={"title": "Hai", "body": "2"}))
    r = api.post(f"/api/v1/forum/threads/{first['id']}/moderate", headers=as_officer(editor_a),
                 json={"action": "pin"})
    assert r.status_code == 404
    r = api.post(f"/api/v1/forum/threads/{national['id']}/moderate",
                 headers=as_officer(mod_a), json={"action": "lock"})
    assert r.status_code == 404  # the national forum is above A's moderator
    ok(api.post(f"/api/v1/forum/threads/{first['id']}/moderate", headers=as_officer(mod_a),
                json={"action": "pin"}))
    order = ok(api.get(f"/api/v1/forum/categories/{cat['a']}/threads",
                       headers=as_officer(editor_a)))["items"]
    assert [t["id"] for t in order] == [first["id"], second["id"]]  # pinned first
    ok(api.post(f"/api/v1/forum/threads/{first['id']}/moderate", headers=as_officer(mod_a),
                json={"action": "lock"}))
    r = api.post(f"/api/v1/forum/threads/{first['id']}/posts", headers=as_officer(editor_a),
                 json={"body": "còn nữa"})
    assert r.status_code == 409 and "locked" in r.json()["detail"]
    ok(api.post(f"/api/v1/forum/threads/{second['id']}/moderate", headers=as_officer(mod_a),
                json={"action": "hide"}))
    seen_by_editor = unread_of(editor_a, cat["a"])
    assert second["id"] not in seen_by_editor and first["id"] in seen_by_editor
    assert second["id"] in unread_of(mod_a, cat["a"])
    reply = ok(api.post(f"/api/v1/forum/threads/{national['id']}/posts",
                        headers=as_officer(editor_a), json={"body": "Spam"}))
    r = api.post(f"/api/v1/forum/posts/{reply['id']}/hide", headers=as_officer(mod_a))
    assert r.status_code == 404  # not A's moderator's forum
    ok(api.post(f"/api/v1/forum/threads/{national['id']}/posts", headers=as_officer(editor_b),
                json={"body": "Cảm ơn."}))  # unread again for A (A's own post marked it read)
    # Pages: the same officer sees the national and A's forums, never B's.
    with _page_client(center, editor_a) as pages:
        listing = pages.get("/monitor/training/forum")
        assert listing.status_code == 200
        rows = set(re.findall(r'data-category="(\d+)"', listing.text))
        assert rows == {str(cat["nation"]), str(cat["a"])}
        assert "Diễn đàn tỉnh B" not in listing.text
        for path in (f"/monitor/training/forum/{cat['b']}",
                     f"/monitor/training/forum/threads/{secret['id']}"):
            r = pages.get(path)
            assert r.status_code == 404 and "Nội bộ tỉnh B" not in r.text
        national_page = pages.get(f"/monitor/training/forum/{cat['nation']}")
        assert 'data-unread="yes"' in national_page.text  # B replied since A last read
        assert pages.get(f"/monitor/training/forum/threads/{national['id']}").status_code == 200
        national_page = pages.get(f"/monitor/training/forum/{cat['nation']}")
        assert 'data-unread="yes"' not in national_page.text
    with _page_client(center, editor_b) as pages:
        assert "Lịch trực bão tỉnh B" in pages.get(f"/monitor/training/forum/{cat['b']}").text
