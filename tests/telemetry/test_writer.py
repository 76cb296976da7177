"""The InfluxDB writer on its own: bounded queue, disk spill (capped, survives a restart),
protocol round trip of health reports, line-protocol escaping."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from control_center.telemetry.lineproto import health_line, series_tags
from control_center.telemetry.writer import InfluxWriter, WriterOptions
from firmware_sim.broker import free_port
from firmware_sim.influx import InfluxServer
from protocol.codec import decode_telemetry, encode
from protocol.errors import MalformedMessage
from protocol.telemetry import HealthReport, HealthSample, NetworkType


def _sample(i: int) -> HealthSample:
    return HealthSample(sample_id=f"{i:032x}", at=datetime(2026, 9, 1, 2, 0, i % 60, tzinfo=UTC),
                        cpu_temp_c=50.5, disk_free_pct=70.0, net_type=NetworkType.WIFI,
                        signal_dbm=-60, agent_version='0.1 "beta"', volume=80)


def _lines(n: int, device: str = "loa-1") -> list[str]:
    tags = series_tags(device, "speaker", 7)
    return [health_line(_sample(i), tags) for i in range(n)]


def test_health_report_round_trip_and_refusals() -> None:
    report = HealthReport(device_id="loa-1", samples=(_sample(1), _sample(2)))
    assert decode_telemetry(encode(report)) == report
    with pytest.raises(MalformedMessage):
        decode_telemetry(encode(report).replace(b'"samples":[', b'"samples":[], "x":['))
    with pytest.raises(MalformedMessage):
        decode_telemetry(b'{"type":"health","v":1,"device_id":"loa-1","samples":[]}')


def test_line_protocol_escapes_strings_and_skips_non_finite() -> None:
    sample = _sample(3).model_copy(update={"load1": float("inf")})
    line = health_line(sample, series_tags("loa-1", "speaker", 7))
    assert line.startswith("health,device_id=loa-1,kind=speaker,unit_id=7 ")
    assert 'agent_version="0.1 \\"beta\\""' in line and "load1" not in line
    assert line.endswith(f" {int(sample.at.timestamp())}000000000")
    assert sample.at == datetime(2026, 9, 1, 2, 0, 3, tzinfo=UTC)


def _options(tmp_path: Path, url: str, **kw: object) -> WriterOptions:
    return WriterOptions(url=url, database="t", spill_dir=tmp_path / "spill",
                         flush_interval_s=0.05, timeout_s=1.0, retry_min_s=0.05,
                         retry_max_s=0.2, **kw)  # type: ignore[arg-type]


def test_full_queue_refuses_with_a_counter(tmp_path: Path) -> None:
    writer = InfluxWriter(_options(tmp_path, f"http://127.0.0.1:{free_port()}",
                                   queue_max_lines=10, offer_timeout_s=0.05))
    assert writer.offer(_lines(8))
    assert not writer.offer(_lines(5))  # the writer thread is not running: nothing drains
    assert writer.stats()["counters"] == {"received": 8, "refused:queue_full": 5}
    writer.stop()


def test_spill_is_capped_and_counts_what_it_drops(tmp_path: Path) -> None:
    writer = InfluxWriter(_options(tmp_path, f"http://127.0.0.1:{free_port()}",
                                   batch_size=50, spill_max_bytes=20_000))
    writer.start()
    for _ in range(20):
        assert writer.offer(_lines(50))
    assert writer.wait_for(lambda st: st["queued_lines"] == 0 and sum(
        v for k, v in st["counters"].items() if k in ("spilled", "dropped:spill_full")  # type: ignore[union-attr]
    ) == 1000, 10), writer.stats()
    stats = writer.stats()
    assert int(stats["spill_bytes"]) <= 20_000  # type: ignore[call-overload]
    assert stats["counters"]["dropped:spill_full"] > 0  # type: ignore[index]
    assert stats["influx_up"] is False
    writer.stop()


def test_spill_left_by_a_stopped_center_is_replayed_in_order(tmp_path: Path,
                                                             influx: InfluxServer) -> None:
    down = InfluxWriter(_options(tmp_path, f"http://127.0.0.1:{free_port()}", batch_size=100))
    down.start()
    lines = _lines(300, "loa-2")  # 60 distinct instants: later lines overwrite earlier ones
    for start in range(0, 300, 100):
        assert down.offer(lines[start:start + 100])
    assert down.wait_for(lambda st: st["spill_lines"] == 300, 10), down.stats()
    down.stop()

    up = InfluxWriter(_options(tmp_path, influx.url, batch_size=100))
    assert up.stats()["spill_lines"] == 300  # found on disk at start
    up.start()
    assert up.wait_for(lambda st: st["spill_lines"] == 0, 15), up.stats()
    up.stop()
    result = influx.query("SELECT count(cpu_temp_c) FROM health", "t")
    (series,) = result["results"][0]["series"]  # type: ignore[index]
    assert series["values"][0][1] == 60
    # Replayed oldest first: the surviving point of instant 0 is the last one written (i=240).
    first = influx.query("SELECT sample_id FROM health ORDER BY time LIMIT 1", "t")
    assert first["results"][0]["series"][0]["values"][0][1] == f"{240:032x}"  # type: ignore[index]
