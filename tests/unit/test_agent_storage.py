"""The agent's storage stays bounded and survives corruption (real SQLite files)."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.agent import Agent
from edge_agent.config import AgentConfig, CacheConfig
from edge_agent.media_cache import MediaCache
from edge_agent.outbox import Outbox
from edge_agent.store import LocalStore
from firmware_sim.hardware import sim_hardware
from protocol.events import AgentFault, PlayFailed
from protocol.signing import public_key_b64
from protocol.telemetry import HealthReport, HealthSample

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def health(n: int) -> HealthReport:
    return HealthReport(device_id="loa-1", samples=(HealthSample(sample_id=f"sample{n:04d}",
                                                                 at=NOW),))


def play_failed(n: int) -> PlayFailed:
    return PlayFailed(event_id=f"event{n:05d}", device_id="loa-1", at=NOW, item_id=f"i-{n}",
                      bulletin_id=1, priority="normal", scheduled_at=NOW, reason="test")


def test_a_corrupt_store_is_moved_aside_and_a_fresh_one_works(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite3"
    store = LocalStore(path)
    store.save_manifest(3, b"signed")
    store.close()
    with path.open("r+b") as fh:  # a bad sector over the header and the first pages
        fh.write(b"\xff" * 8192)
    recovered = LocalStore(path)
    assert recovered.recovered is not None and "agent.sqlite3.corrupt" in recovered.recovered
    assert (tmp_path / "agent.sqlite3.corrupt").read_bytes()[:16] == b"\xff" * 16
    assert recovered.load_manifest() is None  # fresh: the broker's retained copy comes back
    recovered.outbox_add("t", b"x")
    assert recovered.outbox_count() == 1
    recovered.close()
    again = LocalStore(path)
    assert again.recovered is None  # the fresh store is sound
    again.close()


def test_a_store_that_is_not_a_database_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite3"
    path.write_bytes(b"this is not a database at all" * 200)
    store = LocalStore(path)
    assert store.recovered is not None
    store.close()


def test_a_full_outbox_drops_telemetry_before_play_events(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "agent.sqlite3")
    outbox = Outbox(store, window=5, max_rows=100)
    for n in range(60):
        outbox.add("tt/v1/dev/loa-1/event", play_failed(n))
    for n in range(60):
        outbox.add("tt/v1/dev/loa-1/telemetry", health(n))
    assert store.outbox_count() <= 100
    assert outbox.dropped == 120 - store.outbox_count()
    rows = store.outbox_pending(500, exclude=set())
    play_rows = [r for r in rows if r.topic.endswith("/event")]
    assert len(play_rows) == 60  # every play event kept; only telemetry was dropped
    # telemetry is dropped oldest first: the newest reports are still there
    assert b"sample0059" in rows[-1].payload
    store.close()


def test_a_refused_row_is_dead_lettered_not_retried(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "agent.sqlite3")
    outbox = Outbox(store, window=5)
    sent: list[tuple[str, bytes]] = []
    outbox.connected(lambda topic, payload: sent.append((topic, payload)) or len(sent))
    outbox.add("tt/v1/dev/loa-1/event", AgentFault(event_id="fault0001", device_id="loa-1",
                                                   at=NOW, component="player", error="x"))
    outbox.published(1, False, "refused by the broker: Not authorized")
    assert store.outbox_count() == 0 and store.dead_letter_count() == 1
    outbox.connected(lambda topic, payload: sent.append((topic, payload)) or len(sent))
    assert len(sent) == 1  # not sent again on the next connection
    assert store.dead_letters_prune(older_than_s=-1) == 1
    store.close()


def test_messages_are_held_in_memory_while_the_disk_refuses_them(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "agent.sqlite3")
    faults: list[str] = []
    outbox = Outbox(store, window=5, on_fault=lambda c, e, r: faults.append(c))
    store.close()  # every write now fails, as a dead disk would
    outbox.add("tt/v1/dev/loa-1/event", play_failed(1))
    outbox.add("tt/v1/dev/loa-1/event", play_failed(2))
    assert outbox.held() == 2 and faults == ["outbox"]  # reported once, not per message
    fresh = LocalStore(tmp_path / "agent.sqlite3")
    outbox._store = fresh  # noqa: SLF001 - the disk is back (same file, reopened)
    assert outbox.flush_held() == 0
    assert fresh.outbox_count() == 2
    fresh.close()


def test_journal_prune_and_play_now_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite3"
    store = LocalStore(path)
    store.journal_add("old", "completed")
    store.play_now_add("e-1", "cmd-1", b"signed")
    assert store.journal_prune(older_than_s=-1) == 1
    store.close()
    store = LocalStore(path)
    assert store.journal_items() == set()
    assert store.play_now_all() == [("e-1", b"signed")]
    store.close()


def test_cache_eviction_by_next_need(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "agent.sqlite3")
    cache = MediaCache(tmp_path / "media", store, CacheConfig(max_bytes=300))
    names = {}
    for n, label in enumerate(("unneeded", "tomorrow", "next-week", "today")):
        sha = f"{n:064x}"
        cache.path_for(sha).write_bytes(b"x" * 100)
        store.media_add(sha, 100)
        names[label] = sha
    need = {names["today"]: NOW, names["tomorrow"]: NOW + timedelta(days=1),
            names["next-week"]: NOW + timedelta(days=7)}
    assert cache.evict(need) == [names["unneeded"]]  # the cap: unneeded files only
    assert cache.evict(need, max_bytes=100) == []  # needed files stay without disk pressure
    # the disk is full while fetching a file needed today: the farthest need goes first
    assert cache.evict(need, max_bytes=100, needed_after=NOW) == [names["next-week"],
                                                                   names["tomorrow"]]
    assert cache.has(names["today"]) and not cache.path_for(names["next-week"]).exists()
    cache.close()
    store.close()


def test_reindex_registers_verified_files_and_deletes_bad_ones(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "agent.sqlite3")
    cache = MediaCache(tmp_path / "media", store, CacheConfig())
    good = b"audio" * 100
    good_sha = hashlib.sha256(good).hexdigest()
    cache.path_for(good_sha).write_bytes(good)
    bad_sha = "f" * 64
    cache.path_for(bad_sha).write_bytes(b"not what the name says")
    assert cache.reindex() == 1
    assert cache.has(good_sha) and not cache.path_for(bad_sha).exists()
    cache.close()
    store.close()


def test_an_old_store_gains_the_outbox_rank(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
               " payload BLOB NOT NULL, created REAL NOT NULL)")
    db.execute("INSERT INTO outbox (topic, payload, created) VALUES ('t', x'00', 0)")
    db.commit()
    db.close()
    store = LocalStore(path)
    assert store.recovered is None and store.outbox_count() == 1
    store.outbox_add("t", b"y", rank=0)
    assert store.outbox_trim(1, spare=set()) == 1
    store.close()


def test_a_store_corrupt_while_running_asks_for_a_restart(tmp_path: Path) -> None:
    key = public_key_b64(Ed25519PrivateKey.generate().public_key())
    hardware, _ = sim_hardware("loa-1")
    agent = Agent(AgentConfig(device_id="loa-1", data_dir=tmp_path,
                              center_public_keys=(key,)), hardware)
    busy = sqlite3.OperationalError("database is locked")
    agent._fault("player", busy, "loop restarted")  # noqa: SLF001 - the agent's fault path
    assert not agent.restart_needed.is_set()
    corrupt = sqlite3.DatabaseError("database disk image is malformed")
    corrupt.sqlite_errorname = "SQLITE_CORRUPT"  # as sqlite3 sets it for SQLITE_CORRUPT
    agent._fault("player", corrupt, "loop restarted")  # noqa: SLF001
    assert agent.restart_needed.is_set() and "store corrupt" in agent.restart_reason
    faults = [r.payload for r in agent._store.outbox_pending(10, exclude=set())]  # noqa: SLF001
    assert b"the agent restarts to replace the store" in faults[-1]
    agent.cache.close()
    agent._store.close()  # noqa: SLF001
