"""Checks that a page's Content-Security-Policy holds in a real browser."""

from __future__ import annotations

from playwright.sync_api import Page

# Adds an inline <script> and an on...= handler the way an injection would (Playwright's own
# evaluate is exempt from the policy; what it adds to the page is not); reports what ran and
# the directives the browser said it enforced.
_INJECT = """() => new Promise((done) => {
  const refused = [];
  document.addEventListener("securitypolicyviolation", (e) => refused.push(e.effectiveDirective));
  const script = document.createElement("script");
  script.textContent = "window.injected = 'script';";
  document.body.appendChild(script);
  document.body.insertAdjacentHTML("beforeend",
                                   '<img src="/nothing.png" onerror="window.handled = 1">');
  setTimeout(() => done({ran: [window.injected || null, window.handled || null], refused}), 800);
})"""


def assert_injection_blocked(page: Page) -> None:
    """An inline script and an inline event handler added to ``page`` do not run, and the
    browser reports both as refused by the policy."""
    result = page.evaluate(_INJECT)
    assert result["ran"] == [None, None], f"injected script ran on {page.url}: {result}"
    assert sorted(set(result["refused"])) == ["script-src-attr", "script-src-elem"], result
