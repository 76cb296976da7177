"""The agent's health sampler: Linux readings, and samples taken offline arriving later with
their own instants."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.health import LinuxProbe
from protocol.telemetry import NetworkType
from tests.support.waiting import poll
from tests.telemetry.conftest import TelemetryRig


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_linux_probe_reads_a_pi_shaped_sys_and_proc(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _write(root, "sys/class/thermal/thermal_zone0/temp", "61234\n")
    _write(root, "proc/loadavg", "0.42 0.30 0.25 1/123 4567\n")
    _write(root, "proc/uptime", "12345.67 40000.00\n")
    _write(root, "proc/meminfo", "MemTotal:        3884096 kB\nMemFree:  100 kB\n"
                                 "MemAvailable:    2913072 kB\n")
    _write(root, "sys/class/net/lo/operstate", "unknown\n")
    _write(root, "sys/class/net/eth0/operstate", "down\n")
    _write(root, "sys/class/net/wlan0/operstate", "up\n")
    _write(root, "proc/net/wireless",
           "Inter-| sta-|   Quality        |   Discarded packets\n"
           " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
           " wlan0: 0000   54.  -56.  -256        0      0      0      0    118        0\n")
    readings = LinuxProbe(root).read(tmp_path)
    assert readings.cpu_temp_c == pytest.approx(61.234)
    assert readings.load1 == pytest.approx(0.42)
    assert readings.uptime_s == pytest.approx(12345.67)
    assert readings.mem_used_pct == pytest.approx(25.0, abs=0.1)
    assert (readings.net_type, readings.signal_dbm) == (NetworkType.WIFI, -56)
    assert readings.disk_free_bytes and 0 < (readings.disk_free_pct or 0) <= 100


def test_linux_probe_on_a_bare_root_reports_nothing_rather_than_failing(tmp_path: Path) -> None:
    readings = LinuxProbe(tmp_path / "empty").read(tmp_path / "missing")
    assert (readings.cpu_temp_c, readings.load1, readings.uptime_s) == (None, None, None)
    assert readings.net_type is NetworkType.UNKNOWN and readings.disk_free_bytes is None


@pytest.mark.integration
def test_samples_taken_while_the_broker_is_down_arrive_with_their_own_instants(
    rig: TelemetryRig
) -> None:
    commune = rig.stack.unit("xa-h", "commune")
    agent = rig.start_agents(commune, "loa-h-1", interval_s=0.2)["loa-h-1"].agent
    rig.wait_influx("SELECT sample_id FROM health", lambda ps: len(ps) >= 2, 15, "first samples")
    rig.stack.broker.stop()
    down_from = datetime.now(UTC)
    taken = agent.health.taken
    poll(lambda: agent.health.taken, lambda n: n >= taken + 5, 10,
         "5 more samples taken (into the outbox) while offline")
    down_until = datetime.now(UTC)
    assert agent.outbox.pending() >= 4
    rig.stack.broker.start()
    assert agent.outbox.wait_drained(30)
    lo, hi = int(down_from.timestamp() * 1e9), int(down_until.timestamp() * 1e9)
    offline = rig.wait_influx(
        f"SELECT sample_id FROM health WHERE time >= {lo} AND time <= {hi}",
        lambda ps: len(ps) >= 4, 30, "samples stamped while the broker was down")
    assert len({p["sample_id"] for p in offline}) == len(offline)
