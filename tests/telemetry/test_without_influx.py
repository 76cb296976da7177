"""Telemetry off (no TT_INFLUX_URL): presence, latest health and pages still work; charts say why
they are missing; the pages refuse requests without the sign-in cookie."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from firmware_sim.broker import MosquittoBroker
from tests.e2e.conftest import Stack
from tests.support.center import running_center
from tests.support.signin import sign_in_link
from tests.telemetry.conftest import TelemetryRig

pytestmark = pytest.mark.integration


def test_monitoring_without_influxdb(tmp_path: Path, broker: MosquittoBroker) -> None:
    with running_center(tmp_path / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password, monitor_interval_s=0.2) as center:
        assert center.settings.influx_url is None
        stack = Stack(tmp_path, broker, center.api, center.public_key_b64)
        rig = TelemetryRig(stack, center, influx=None)  # type: ignore[arg-type]
        try:
            commune = stack.unit("xa-n", "commune")
            rig.start_agents(commune, "loa-n-1", interval_s=0.2)
            center.wait_for(lambda: center.api.get("/api/v1/monitoring/devices/loa-n-1")
                            .json()["device"]["sample_at"], timeout=10, what="a stored sample")
            r = center.api.get("/api/v1/monitoring/devices/loa-n-1/series")
            assert r.status_code == 503 and "TT_INFLUX_URL" in r.text
            stats = center.api.get("/api/v1/monitoring/telemetry").json()
            assert stats["enabled"] is False and stats["messages"]["samples"] >= 1

            anonymous = httpx.Client(base_url=center.base_url, follow_redirects=False)
            r = anonymous.get("/monitor/devices/loa-n-1")
            assert r.status_code == 303
            assert r.headers["location"].startswith("/monitor/login?next=")
            anonymous.cookies.set("tt_pages", "forged", path="/monitor")
            assert anonymous.get("/monitor").status_code == 303
            r = anonymous.post("/monitor/login", data={"token": "nope-nope-nope-nope"})
            assert r.status_code == 401 and "Mã truy cập không đúng" in r.text
            anonymous.close()

            browser_like = httpx.Client(base_url=center.base_url, follow_redirects=True)
            r = browser_like.get(sign_in_link(center, next="/monitor/devices/loa-n-1"))
            assert r.status_code == 200 and str(r.url).endswith("/monitor/devices/loa-n-1")
            assert "Chưa cấu hình InfluxDB" in r.text and "Trực tuyến" in r.text
            assert browser_like.get("/monitor/alerts").status_code == 200  # cookie kept
            browser_like.close()
        finally:
            for sim in rig.agents.values():
                sim.agent.stop()
