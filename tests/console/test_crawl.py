"""Every page a signed-in user can reach by following links works, for every role (Chromium).

Seeded with a little content (drafts, a waiting bulletin, a scheduled one, one sent down from
the province), each role starts at ``/console`` and follows every same-origin link under
``/console`` and ``/monitor`` breadth-first. Each page must answer below 500 (a 403/404 only as
the bilingual error page), show no server error text, load every image it shows and, on the
console at phone size, not scroll sideways; each carries the strict Content-Security-Policy
and trips none of it. All problems are collected and reported together.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urldefrag, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page

from protocol.web_headers import PAGE_POLICY
from tests.center.helpers import ok
from tests.console.conftest import Tree, sign_in
from tests.support.browser import LAPTOP, PHONE, run_in_browser, screenshot

pytestmark = pytest.mark.integration

LOCAL = "Asia/Ho_Chi_Minh"
ROLES = {"admin": LAPTOP, "prov_op": LAPTOP, "prov_appr": LAPTOP, "op_a": PHONE,
         "appr_a": PHONE, "tech_a": LAPTOP}
MAX_PAGES = 60  # per role
# Per path: the calendar links week to week without end, and the same page with other filter
# values adds little; the cap keeps the crawl broad rather than deep.
MAX_VARIANTS = 5
SERVER_ERRORS = ("Internal Server Error", "Traceback")

# Every <img> present, lazy ones included (made eager), waited for; the ones that did not load.
# Pages leave the waveform out for text bulletins, so only images on the page are checked.
BROKEN_IMAGES = """async () => {
  const broken = [];
  for (const img of Array.from(document.images)) {
    img.loading = "eager";
    if (!img.complete) {
      await new Promise((done) => {
        img.addEventListener("load", done, {once: true});
        img.addEventListener("error", done, {once: true});
      });
    }
    if (img.naturalWidth === 0) broken.push(img.currentSrc || img.src);
  }
  return broken;
}"""


def seed(tree: Tree) -> None:
    """Commune A: a draft, a bulletin waiting for approval, one approved and scheduled daily;
    the province: an approved bulletin published down to both communes' inboxes."""
    op_a, appr_a = tree.api_as("op_a"), tree.api_as("appr_a")
    ok(op_a.post("/api/v1/bulletins", json={
        "title": "Bản nháp: họp tổ dân phố", "kind": "text", "text": "Nội dung đang soạn."}))
    waiting = ok(op_a.post("/api/v1/bulletins", json={
        "title": "Thông báo thu gom rác", "category": "môi trường", "kind": "text",
        "text": "Xe thu gom rác đi qua các thôn vào sáng thứ bảy."}))["id"]
    ok(op_a.post(f"/api/v1/bulletins/{waiting}/submit"), 200)
    daily = ok(op_a.post("/api/v1/bulletins", json={
        "title": "Bản tin sáng xã A", "category": "thời sự", "kind": "text",
        "text": "Kính thưa bà con, sau đây là bản tin buổi sáng."}))["id"]
    ok(op_a.post(f"/api/v1/bulletins/{daily}/submit", json={"note": "Nhờ duyệt giúp"}), 200)
    ok(appr_a.post(f"/api/v1/bulletins/{daily}/approve"), 200)
    ok(op_a.post("/api/v1/schedules", json={
        "bulletin_id": daily, "rrule": "FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0",
        "valid_from": datetime.now(ZoneInfo(LOCAL)).isoformat(), "timezone": LOCAL,
        "targets": {"unit_ids": [tree.units["a"]["id"]]}}))

    prov_op = tree.api_as("prov_op")
    down = ok(prov_op.post("/api/v1/bulletins", json={
        "title": "Phòng chống bão số 3", "category": "thiên tai", "kind": "text",
        "text": "Tỉnh đề nghị các xã thông báo cho bà con chằng chống nhà cửa."}))["id"]
    ok(prov_op.post(f"/api/v1/bulletins/{down}/submit"), 200)
    ok(tree.api_as("prov_appr").post(f"/api/v1/bulletins/{down}/approve"), 200)
    ok(prov_op.post(f"/api/v1/bulletins/{down}/publish",
                    json={"unit_ids": [tree.units["province"]["id"]]}))


def followable(url: str, base: str) -> bool:
    """Same-origin console and monitoring pages, never a sign-out or a CSV download."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != base:
        return False
    path = parts.path
    return (path.startswith(("/console", "/monitor")) and "logout" not in url
            and not path.endswith(".csv"))


def check_page(page: Page, url: str, width: int, fail: Callable[[str, str], None]) -> None:
    """Open ``url`` and record what is wrong with it."""
    response = page.goto(url)
    if response is None:
        fail(url, "no response")
        return
    status = response.status
    if status >= 500:
        fail(url, f"HTTP {status}")
    elif status in (403, 404):
        if page.locator("#error-title").count() != 1:
            fail(url, f"HTTP {status} without the bilingual error page (#error-title)")
    elif status >= 400:
        fail(url, f"HTTP {status}: a link leads to a refused request")
    if response.headers.get("content-security-policy") != PAGE_POLICY:
        fail(url, "without the strict Content-Security-Policy (control_center.web.headers)")
    text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    for marker in SERVER_ERRORS:
        if marker in text:
            fail(url, f"page text contains {marker!r}")
    path = urlsplit(page.url).path
    if path in ("/console/login", "/monitor/login"):
        fail(url, f"a signed-in user was sent to sign in again ({path})")
    # Console and monitoring pages alike: wide tables scroll inside themselves on a phone.
    if width == PHONE["width"]:
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            fail(url, f"scrolls sideways at phone width: scrollWidth {scroll} > {width}")
    for src in page.evaluate(BROKEN_IMAGES):
        fail(url, f"image did not load: {src}")


def crawl(page: Page, base: str, role: str, failures: list[str]) -> int:
    """Breadth-first from ``/console``; returns the number of pages visited."""
    width = page.viewport_size["width"] if page.viewport_size else LAPTOP["width"]
    start = f"{base}/console"
    queue, seen = deque([start]), {start}
    variants: dict[str, int] = {}
    visited = 0
    refused: list[str] = []  # what the page's own policy refused (an inline script left over)
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text else None)

    def fail(url: str, problem: str) -> None:
        failures.append(f"{role} {url.removeprefix(base)}: {problem}")

    while queue and visited < MAX_PAGES:
        url = queue.popleft()
        visited += 1
        check_page(page, url, width, fail)
        for message in refused:
            fail(url, f"the page trips its own policy: {message[:200]}")
        refused.clear()
        if url == start:
            screenshot(page, f"crawl-{role}")
        hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for href in hrefs:
            target = urldefrag(href).url
            if target in seen or not followable(target, base):
                continue
            seen.add(target)
            path = urlsplit(target).path
            variants[path] = variants.get(path, 0) + 1
            if variants[path] <= MAX_VARIANTS:
                queue.append(target)
    return visited


def test_every_linked_page_works_for_every_role(tree: Tree) -> None:
    seed(tree)
    base = tree.center.base_url
    failures: list[str] = []
    visited: dict[str, int] = {}

    def scenario(browser: Browser) -> None:
        for role, viewport in ROLES.items():
            page = sign_in(browser, base, role, viewport=viewport)
            visited[role] = crawl(page, base, role, failures)
            page.context.close()

    run_in_browser(scenario)
    assert not failures, (f"{len(failures)} problem(s) while crawling (pages per role: "
                          f"{visited}):\n" + "\n".join(failures))
    assert all(count >= 5 for count in visited.values()), visited
