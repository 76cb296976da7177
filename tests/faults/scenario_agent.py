"""Scenarios 2-4: power cuts (kill -9) at three moments, a full disk, a corrupted store.

Shared by the tests (short) and ``bench/faults.py``. Each drives a :class:`FaultRig` with
agent processes, waits on what must happen and returns its row of ``docs/reliability.md``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from control_center.models import DeviceEventRecord
from firmware_sim.ledger import read_ledger
from tests.faults.rig import FaultRig, wait_for_instant
from tests.faults.tally import ReliabilityRow
from tests.support.tmpfs import small_disk
from tests.support.waiting import wait_until

KILL_TEST = ".venv/bin/python -m pytest -q tests/faults/test_power_cuts.py"
DISK_TEST = ".venv/bin/python -m pytest -q tests/faults/test_disk_full.py"
CORRUPT_TEST = ".venv/bin/python -m pytest -q tests/faults/test_corrupt_store.py"


def _stored_payloads(rig: FaultRig, device_id: str, kind: str) -> list[dict[str, Any]]:
    """The events of one type the center stored for a device."""
    with rig.center.center.sessions() as session:
        rows = session.scalars(select(DeviceEventRecord.payload).where(
            DeviceEventRecord.device_id == device_id, DeviceEventRecord.type == kind))
        return [json.loads(p) for p in rows]


def _faults(rig: FaultRig, device_id: str) -> list[dict[str, Any]]:
    """The ``agent_fault`` events the center stored for a device."""
    return _stored_payloads(rig, device_id, "agent_fault")


def killed_mid_download(rig: FaultRig) -> ReliabilityRow:
    """The agent is killed while a rate-limited download is half done; restarted, it resumes
    the partial file and plays on time."""
    device = rig.device(rig.unit())
    bulletin = rig.bulletin(seconds=8.0)  # ~64 kB as delivered (MP3 64 kbit/s)
    at = datetime.now(UTC) + timedelta(seconds=14)
    rig.schedule(bulletin, [at], [device.device_id])
    proc = rig.spawn_agent(device, cache={"rate_limit_bps": 16_000, "chunk_bytes": 4096})
    sha = bulletin["delivery"]["sha256"]
    part = rig.files(device.device_id).data_dir / "media" / f"{sha}.part"
    wait_until(lambda: part.exists() and part.stat().st_size > 20_000, 20,
               "a half-done download", interval=0.02)
    proc.kill()
    held = part.stat().st_size
    assert 0 < held < bulletin["delivery"]["size"]
    rig.spawn_agent(device, cache={"chunk_bytes": 4096})
    fault_end = time.time()
    rig.wait_heard(timeout=at.timestamp() - time.time() + 15)
    rig.wait_stored()
    ready = [e for e in read_ledger(rig.files(device.device_id).ledger)
             if e.type == "media_ready"]
    assert ready, "no media_ready after the restart"
    return ReliabilityRow(
        "2a. kill -9 mid-download", f"Agent process killed with {held // 1000} kB of "
        f"{bulletin['delivery']['size'] // 1000} kB downloaded (16 kB/s link); restarted, it "
        "resumed the partial file.", rig.tally(fault_end=fault_end),
        ".venv/bin/python -m pytest -q tests/integration/test_agent_process.py")


def killed_mid_play(rig: FaultRig) -> ReliabilityRow:
    """The agent is killed 1.5 s into a 4 s play (a power cut): the amplifier's
    relay drops with the power; restarted, the agent does not replay the cut item, and the
    next instant plays on time."""
    device = rig.device(rig.unit())
    proc = rig.spawn_agent(device)
    rig.wait_online(device.device_id)
    bulletin = rig.bulletin(seconds=4.0)
    first = datetime.now(UTC) + timedelta(seconds=5)
    second = first + timedelta(seconds=9)
    rig.schedule(bulletin, [first, second], [device.device_id])
    rig.wait_cached(device.device_id, bulletin["delivery"]["sha256"])
    wait_for_instant(first.timestamp() + 1.5)
    ledger = rig.files(device.device_id).ledger
    wait_until(lambda: any(e.type == "play_started" for e in read_ledger(ledger)), 5,
               "the play_started of the first instant")
    proc.kill()
    rig.spawn_agent(device)
    fault_end = time.time()
    rig.wait_online(device.device_id)
    wait_until(lambda: any(abs(p.scheduled_at - second.timestamp()) < 0.001
                           for p in rig.plays(device.device_id)),
               second.timestamp() - time.time() + 15, "the play of the second instant")
    rig.wait_stored()
    tally = rig.tally(fault_end=fault_end, due_before=second.timestamp() + 1)
    started = [e for e in rig.made() if e.type == "play_started"]
    assert len(started) == 2, f"the cut play was replayed or lost: {len(started)} starts"
    # The power cut kept the sink from logging the cut play: its play_started (stored at the
    # center) says when it began, which is what "heard" and "late" are judged by here.
    cut = [p for p in _stored_payloads(rig, device.device_id, "play_started")
           if abs(datetime.fromisoformat(p["scheduled_at"]).timestamp() - first.timestamp())
           < 0.001]
    assert len(cut) == 1, "no play_started for the cut play"
    lateness = (datetime.fromisoformat(cut[0]["started_at"]) - first).total_seconds()
    tally = dataclasses.replace(
        tally, plays_heard=tally.plays_heard + 1, unheard=(),
        plays_late=tally.plays_late + (lateness > tally.late_tolerance_s))
    return ReliabilityRow(
        "2b. kill -9 mid-play", "Agent process killed 1.5 s into a 4 s play; restarted, the cut "
        "play is not replayed (its start was journaled and reported), the next instant plays.",
        tally, f"{KILL_TEST} -k mid_play",
        note="The cut play counts as heard from its play_started stored at the center: the "
             "simulated sink writes its log line at the end of a play, which the power cut "
             "prevented.")


def killed_mid_write(rig: FaultRig, *, kills: int = 4) -> ReliabilityRow:
    """The agent writes constantly (a health sample every 50 ms, through the outbox) and is
    killed ``kills`` times at arbitrary moments: the store always opens sound, nothing made
    is lost."""
    device = rig.device(rig.unit())
    sections = {"health": {"interval_s": 0.05}}
    proc = rig.spawn_agent(device, **sections)
    ledger = rig.files(device.device_id).ledger

    def reports() -> int:  # health reports in the ledger (its other lines are events)
        return sum(1 for e in read_ledger(ledger) if e.channel == "telemetry")

    for n in range(kills):
        target = reports() + 20
        wait_until(lambda t=target: reports() >= t, 20,
                   f"20 more health reports before kill {n + 1}", interval=0.01)
        proc.kill()
        proc = rig.spawn_agent(device, **sections)
    fault_end = time.time()
    rig.wait_online(device.device_id)
    rig.wait_stored(timeout=30)
    recovered = [f for f in _faults(rig, device.device_id) if f.get("component") == "store"]
    assert not recovered, f"a power cut corrupted the store: {recovered}"
    tally = rig.tally(fault_end=fault_end)
    return ReliabilityRow(
        "2c. kill -9 mid-write", f"Agent process writing a health sample every 50 ms killed "
        f"{kills} times at arbitrary moments; the store (WAL, synchronous=FULL) opened sound "
        f"every time ({tally.telemetry_made} health reports written meanwhile; no store "
        "recovery reported).", tally, f"{KILL_TEST} -k mid_write")


def disk_full(rig: FaultRig, *, size_mb: int = 12) -> ReliabilityRow:
    """The agent's data partition fills up while plays are due and a new bulletin arrives;
    plays continue from cache, messages are held in memory; when space is back everything
    is written, sent and the new bulletin downloaded and played."""
    device = rig.device(rig.unit())
    files = rig.files(device.device_id)
    with small_disk(files.data_dir, size_mb=size_mb) as disk:
        proc = rig.spawn_agent(device, health={"interval_s": 0.5})
        rig.wait_online(device.device_id)
        bulletin = rig.bulletin(seconds=1.0)
        start = datetime.now(UTC) + timedelta(seconds=4)
        full = [start + timedelta(seconds=3 * i) for i in range(1, 3)]
        rig.schedule(bulletin, [start, *full], [device.device_id])
        rig.wait_cached(device.device_id, bulletin["delivery"]["sha256"])
        rig.wait_heard(timeout=15, before=start.timestamp() + 1)
        rig.wait_stored()
        filled = disk.fill()
        filled_at = time.time()
        late = rig.bulletin(seconds=1.0, title="Bản tin khi đầy đĩa")
        after = full[-1] + timedelta(seconds=6)
        rig.schedule(late, [after], [device.device_id])
        rig.wait_heard(timeout=full[-1].timestamp() - time.time() + 10,
                       before=full[-1].timestamp() + 1)
        assert not files.cached(late["delivery"]["sha256"])
        disk.free()
        fault_end = time.time()
        rig.wait_heard(timeout=after.timestamp() - time.time() + 15)
        rig.wait_stored(timeout=30)
        proc.terminate()
    faults = _faults(rig, device.device_id)
    assert faults, "the full disk was not reported as an agent_fault"
    tally = rig.tally(fault_end=fault_end)
    return ReliabilityRow(
        "3. Disk full", f"Agent data on a {size_mb} MB tmpfs filled to the last byte "
        f"({filled // 1_000_000} MB filler) for {fault_end - filled_at:.0f} s over 2 instants, "
        "while a new bulletin arrived; then the filler was deleted. Plays went on from cache, "
        f"messages were held in memory; {len(faults)} agent_fault event(s) reported it.",
        tally, DISK_TEST)


def corrupt_store(rig: FaultRig) -> ReliabilityRow:
    """The agent's SQLite store is overwritten while the agent is off; at start it is moved
    aside, a fresh one created, the cache re-indexed (no download again), the manifest read
    again from the broker, the next instant plays and the recovery is reported."""
    device = rig.device(rig.unit())
    files = rig.files(device.device_id)
    proc = rig.spawn_agent(device)
    bulletin = rig.bulletin(seconds=1.0)
    first = datetime.now(UTC) + timedelta(seconds=4)
    second = first + timedelta(seconds=8)
    rig.schedule(bulletin, [first, second], [device.device_id])
    rig.wait_heard(timeout=20, before=first.timestamp() + 1)
    rig.wait_stored()
    proc.terminate()
    with files.store.open("r+b") as fh:  # a bad sector over the header and first pages
        fh.write(b"\xa5" * 16384)
    rig.spawn_agent(device)
    fault_end = time.time()
    wait_until(lambda: [f for f in _faults(rig, device.device_id)
                        if f.get("component") == "store"], 20, "the store recovery reported")
    rig.wait_heard(timeout=second.timestamp() - time.time() + 10)
    rig.wait_stored()
    downloads = [e for e in read_ledger(files.ledger) if e.type == "media_ready"]
    assert len(downloads) == 1, "the cache was downloaded again instead of re-indexed"
    assert (files.data_dir / "agent.sqlite3.corrupt").exists()
    return ReliabilityRow(
        "4. Corrupt store", "agent.sqlite3 overwritten (16 kB) while the agent was stopped; "
        "at start it was moved aside, a fresh store created, the cached media re-indexed "
        "(no new download), the retained manifest read again and the recovery reported.",
        rig.tally(fault_end=fault_end), CORRUPT_TEST)
