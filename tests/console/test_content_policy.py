"""No script on the center's origin but its own files (Chromium, a real center): pages carry the
strict policy and refuse an injected script while their own scripts work; course media are
inert files (nosniff, a disposition, a sandbox policy)."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import Browser

from protocol.web_headers import FILE_POLICY, PAGE_POLICY
from tests.console.conftest import Tree, sign_in
from tests.support.browser import run_in_browser
from tests.support.csp import assert_injection_blocked
from tests.training.conftest import SAMPLE
from tests.training.helpers import import_sample

pytestmark = pytest.mark.integration

PICTURE = SAMPLE / "media" / "so-do-ban-tin.png"
SOUND = SAMPLE / "media" / "ban-tin-mau.wav"


def test_pages_refuse_injected_script_and_media_are_inert(tree: Tree) -> None:
    base = tree.center.base_url
    import_sample(tree.center.api)
    picture = hashlib.sha256(PICTURE.read_bytes()).hexdigest()
    sound = hashlib.sha256(SOUND.read_bytes()).hexdigest()
    for directive in ("default-src 'self'", "script-src 'self';", "object-src 'none'",
                      "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"):
        assert directive in PAGE_POLICY

    docs = tree.center.api.get("/docs")  # Swagger UI: its one inline script allowed by hash
    assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
    script_src = docs.headers["content-security-policy"].split("script-src ", 1)[1].split(";")[0]
    assert "'sha256-" in script_src and "'unsafe-inline'" not in script_src

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "admin")
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text)
                if "Content Security Policy" in m.text else None)
        response = page.goto(f"{base}/console/bulletins")
        assert response is not None
        headers = response.headers
        assert headers["content-security-policy"] == PAGE_POLICY
        assert (headers["x-content-type-options"], headers["x-frame-options"],
                headers["referrer-policy"]) == ("nosniff", "DENY", "same-origin")
        assert violations == []  # the page's own script loads from /static
        page.select_option("#f-status", "approved")  # its script submits the filter
        page.wait_for_url(f"{base}/console/bulletins?status=approved")
        assert_injection_blocked(page)

        for sha, kind, name in ((picture, "image/png", f"{picture}.png"),
                                (sound, "audio/x-wav", f"{sound}.wav")):
            media = page.request.get(f"{base}/monitor/training/media/{sha}")
            assert media.status == 200, media.text()
            assert media.headers["content-type"] == kind
            assert media.headers["x-content-type-options"] == "nosniff"
            assert media.headers["content-disposition"] == f'inline; filename="{name}"'
            assert media.headers["content-security-policy"] == FILE_POLICY
            assert FILE_POLICY.endswith("sandbox")
        missing = page.goto(f"{base}/console/bulletins/999999")  # the error page too
        assert missing is not None and missing.status == 404
        assert missing.headers["content-security-policy"] == PAGE_POLICY
        page.context.close()

    run_in_browser(scenario)
