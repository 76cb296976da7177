"""Debian's Chromium, driven by Playwright, opens the fleet overview and a device page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.support.signin import sign_in_link
from tests.telemetry.conftest import TelemetryRig

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
def test_overview_and_device_page_show_figures_and_charts(rig: TelemetryRig,
                                                          browser: Browser) -> None:
    province = rig.stack.unit("tinh-w", "province")
    commune = rig.stack.unit("xa-w", "commune", province)
    agents = rig.start_agents(commune, "loa-w-1", "loa-w-2", interval_s=0.2)
    agents["loa-w-1"].sensors.set(cpu_temp_c=86.0)  # an overheating enclosure
    rig.wait_influx("SELECT cpu_temp_c FROM health WHERE device_id = 'loa-w-1'",
                    lambda ps: len(ps) >= 8, 20, "eight samples of loa-w-1")
    rig.center.center.telemetry.monitor.wait_ticks(2, 5)
    base = rig.center.base_url
    ARTIFACTS.mkdir(exist_ok=True)

    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/monitor")
    assert "/monitor/login" in page.url  # no cookie yet: the sign-in form
    page.fill("#token", "wrong-token-0123456789")
    page.click("button[type=submit]")
    assert page.locator(".err").inner_text().startswith("Mã truy cập không đúng")
    page.goto(sign_in_link(rig.center))  # a one-time link, as ./run.sh demo prints
    page.wait_for_url(f"{base}/monitor")
    (cookie,) = [c for c in context.cookies() if c["name"] == "tt_pages"]
    assert cookie["httpOnly"] and cookie["value"] != rig.center.api_token

    row = page.locator(f"#units tr[data-unit='{province['id']}']")
    assert row.locator("td.num").first.inner_text() == "2"
    assert row.locator("td.online").inner_text() == "2"
    device_row = page.locator("#devices tr[data-device='loa-w-1']")
    assert device_row.get_attribute("data-presence") == "online"
    assert "Trực tuyến" in device_row.inner_text() and "°C" in device_row.inner_text()
    assert page.locator("html").get_attribute("lang") == "vi"
    page.screenshot(path=str(ARTIFACTS / "monitor-overview.png"), full_page=True)

    page.click("#devices a[href='/monitor/devices/loa-w-1']")
    page.wait_for_url(f"{base}/monitor/devices/loa-w-1")
    assert "°C" in page.locator("#fig-temp").inner_text()
    assert float(page.locator("#fig-temp").inner_text().split()[0]) > 80
    temp_chart = page.locator("svg.chart[data-field='cpu_temp_c']")
    assert int(temp_chart.get_attribute("data-points") or 0) >= 8
    assert temp_chart.locator("polyline").count() == 1
    assert temp_chart.locator("line.threshold").count() == 1  # the 80 °C alert line
    assert page.locator("#charts svg.chart").count() == 6
    assert page.locator("svg.chart.plays").count() == 1
    assert page.locator("script").count() == 0  # server-rendered, no scripts at all
    # The overheating alert shows on the device page.
    page.reload()
    assert page.locator("#alerts tr[data-kind='overheating']").count() == 1
    page.screenshot(path=str(ARTIFACTS / "monitor-device.png"), full_page=True)
    context.close()

    # A one-time link signs in and goes on to its page, without the code in the address bar.
    other = browser.new_context()
    page = other.new_page()
    page.goto(sign_in_link(rig.center, next="/monitor/alerts?state=open"))
    assert page.url == f"{base}/monitor/alerts?state=open"
    assert page.locator("#alerts tr[data-kind='overheating']").count() == 1
    other.close()
