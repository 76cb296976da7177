"""influxd stopped for a while and restarted: every sample taken meanwhile lands exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.codec import encode
from protocol.telemetry import HealthReport
from protocol.topics import Channel, device_topic
from tests.telemetry.conftest import TelemetryRig

pytestmark = pytest.mark.integration


def _counts(points: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in points:
        out[p["device_id"]] = out.get(p["device_id"], 0) + 1
    return out


def test_samples_taken_while_influxd_is_down_arrive_exactly_once(rig: TelemetryRig) -> None:
    commune = rig.stack.unit("xa-o", "commune")
    agents = rig.start_agents(commune, "loa-o-1", "loa-o-2", "loa-o-3", interval_s=0.1)
    writer = rig.center.center.telemetry.writer
    assert writer is not None
    rig.wait_influx("SELECT sample_id FROM health", lambda ps: len(ps) >= 9, 20,
                    "samples before the outage")

    rig.influx.stop()
    taken_at_stop = {d: s.agent.health.taken for d, s in agents.items()}
    # The bridge keeps taking samples and spills them to disk while InfluxDB is away.
    assert writer.wait_for(lambda st: int(st["spill_lines"]) >= 30, 20), writer.stats()  # type: ignore[call-overload]
    assert writer.stats()["influx_up"] is False
    rig.influx.start()  # same port, same data directory

    for sim in agents.values():
        sim.agent.health.stop()  # stop sampling; what was taken must all arrive
    taken = {d: s.agent.health.taken for d, s in agents.items()}
    assert all(taken[d] > taken_at_stop[d] for d in agents)
    for sim in agents.values():
        assert sim.agent.outbox.wait_drained(20)
    assert writer.wait_for(
        lambda st: st["spill_lines"] == 0 and st["queued_lines"] == 0
        and st["counters"]["written"] == st["counters"]["received"], 30), writer.stats()  # type: ignore[index]

    points = rig.query("SELECT sample_id FROM health GROUP BY device_id")
    assert _counts(points) == taken
    ids = [p["sample_id"] for p in points]
    assert len(ids) == len(set(ids)) == sum(taken.values())
    stats = writer.stats()
    counters = stats["counters"]
    assert counters["spilled"] >= 30 and counters["replayed"] == counters["spilled"]  # type: ignore[index]
    assert not any(k.startswith(("refused", "dropped")) for k in counters)  # type: ignore[union-attr]

    # A re-delivered report (same samples, same instants) overwrites itself: still once.
    sample = rig.query("SELECT * FROM health WHERE device_id = 'loa-o-1' LIMIT 1")[0]
    dup = rig.query(f"SELECT sample_id FROM health WHERE sample_id = '{sample['sample_id']}'")
    assert len(dup) == 1
    report = HealthReport(device_id="loa-o-1", samples=(
        agents["loa-o-1"].agent.health.take().model_copy(update={"sample_id": "a" * 32}),))
    topic = device_topic("loa-o-1", Channel.TELEMETRY)
    for _ in range(3):
        assert rig.center.center.telemetry.handle_report(topic, encode(report))
    rig.wait_influx(f"SELECT sample_id FROM health WHERE sample_id = '{'a' * 32}'",
                    lambda ps: len(ps) >= 1, 10, "the re-delivered sample")
    assert writer.wait_for(lambda st: st["queued_lines"] == 0
                           and st["counters"]["written"] == st["counters"]["received"], 10)
    again = rig.query("SELECT sample_id FROM health WHERE device_id = 'loa-o-1'")
    assert len(again) == taken["loa-o-1"] + 1
