"""Samples from simulated agents reach InfluxDB with the schema documented in docs/telemetry.md."""

from __future__ import annotations

import pytest

from tests.support.waiting import poll
from tests.telemetry.conftest import DB, TelemetryRig

pytestmark = pytest.mark.integration

HEALTH_TAGS = {"device_id", "kind", "unit_id"}
HEALTH_FIELDS = {
    "cpu_temp_c": "float", "load1": "float", "mem_used_pct": "float", "disk_free_pct": "float",
    "uptime_s": "float", "clock_offset_ms": "float", "disk_free_bytes": "integer",
    "signal_dbm": "integer", "volume": "integer", "cache_bytes": "integer",
    "manifest_version": "integer", "amp_on": "boolean", "net_type": "string",
    "agent_version": "string", "sample_id": "string", "outbox_dropped": "integer",
    "dead_letters": "integer", "faults": "integer",
}
OPTIONAL_FIELDS = {"outbox_rows": "integer"}
"""Written when the agent reports them; each heartbeat is a float ``hb_<loop>_s``."""


def _undocumented(field_types: dict[str, str]) -> dict[str, str]:
    return {name: kind for name, kind in field_types.items()
            if HEALTH_FIELDS.get(name, OPTIONAL_FIELDS.get(name)) != kind
            and not (name.startswith("hb_") and name.endswith("_s") and kind == "float")}


def test_samples_arrive_with_the_documented_schema(rig: TelemetryRig) -> None:
    commune = rig.stack.unit("xa-1", "commune")
    agents = rig.start_agents(commune, "loa-s-1", "kiosk-s-2", interval_s=0.2)
    agents["kiosk-s-2"].sensors.set(cpu_temp_c=61.5)

    q = "SELECT * FROM health GROUP BY device_id, unit_id, kind"
    points = rig.wait_influx(
        q, lambda ps: all(sum(p["device_id"] == d for p in ps) >= 3 for d in agents), 20,
        "three samples per device")

    tag_keys = {row["tagKey"] for row in rig.query("SHOW TAG KEYS FROM health")}
    assert tag_keys == HEALTH_TAGS
    field_types = {row["fieldKey"]: row["fieldType"]
                   for row in rig.query("SHOW FIELD KEYS FROM health")}
    assert HEALTH_FIELDS.items() <= field_types.items()
    assert _undocumented(field_types) == {}
    assert {p["unit_id"] for p in points} == {str(commune["id"])}
    assert {p["kind"] for p in points} == {"speaker"}
    for p in points:
        assert 0 < p["disk_free_pct"] <= 100 and p["net_type"] == "cellular"
        assert p["signal_dbm"] < 0 and p["agent_version"] and len(p["sample_id"]) == 32
        assert abs(p["clock_offset_ms"]) < 1000  # measured against the center's /api/v1/time
    kiosk_temps = [p["cpu_temp_c"] for p in points if p["device_id"] == "kiosk-s-2"]
    assert max(kiosk_temps) > 58  # the steered reading, not the default 52 °C
    # One point per sample: sample ids are unique and every point carries the sample's instant.
    ids = [p["sample_id"] for p in points]
    assert len(ids) == len(set(ids))

    # The same figures reach SQL (latest sample per device) for the overview. Presence is
    # judged from when the center last heard the device (silent after 1.5 s here): a worker
    # that stalled for a moment on a busy machine shows it silent once, so wait for online.
    poll(lambda: rig.center.api.get("/api/v1/monitoring/overview").json()["devices"],
         lambda devices: {d["id"]: d["presence"] for d in devices}["kiosk-s-2"] == "online",
         10, "kiosk-s-2 online in the overview")
    rig.center.center.telemetry.monitor.wait_ticks(2, 5)
    overview = rig.center.api.get("/api/v1/monitoring/overview").json()
    rows = {d["id"]: d for d in overview["devices"]}
    assert rows["kiosk-s-2"]["cpu_temp_c"] is not None and rows["kiosk-s-2"]["cpu_temp_c"] > 55
    (unit_row,) = [u for u in overview["units"] if u["unit_id"] == commune["id"]]
    assert (unit_row["devices"], unit_row["online"], unit_row["offline"]) == (2, 2, 0)
    stats = rig.center.api.get("/api/v1/monitoring/telemetry").json()
    assert stats["enabled"] and stats["influx"]["counters"]["written"] >= 6
    assert not any(k.startswith("refused") for k in stats["messages"]), stats
    assert rig.center.settings.influx_db == DB
