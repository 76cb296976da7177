"""The fault suite's rig: one real Mosquitto, one real center in-process, real agents.

    with open_rig(tmp_path, partition=True) as rig:
        unit = rig.unit()
        dev = rig.device(unit)
        proc = rig.spawn_agent(dev, netns=rig.netns)
        bulletin = rig.bulletin(seconds=1.0)
        rig.schedule(bulletin, [t0], [dev.device_id])
        ...
        tally = rig.tally(fault_end=t_end)

Every agent (process or in-process) writes a ledger and a play log under the rig's directory;
``tally()`` reads them with the center's database. With ``partition=True`` the rig makes a
network namespace first, and the broker's device listener and the center's HTTP also listen on
its host-side address (the agent inside reaches nothing else; nothing binds 0.0.0.0).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from control_center.models import Device, DeviceEventRecord, ManifestState
from edge_agent.clock import Clock
from edge_agent.config import AgentConfig, config_from_dict
from firmware_sim.broker import MosquittoBroker
from firmware_sim.hardware import PlayRecord, read_play_log
from firmware_sim.ledger import LedgerEntry, read_ledger
from tests.faults.agents import AgentFiles, AgentProcess, InProcessAgent
from tests.faults.tally import Due, StoredEvent, Tally, count
from tests.support.audio import make_tone
from tests.support.center import CenterHandle, running_center
from tests.support.netns import Namespace, isolated_namespace
from tests.support.tree import add_device, add_unit
from tests.support.waiting import poll, wait_until

_seq = itertools.count(1)


def wait_for_instant(epoch: float) -> None:
    """Block until the wall clock reaches ``epoch`` (a scenario's fault is timed to a play
    instant: the instant itself is what is awaited)."""
    remaining = epoch - time.time()
    if remaining > 0:
        time.sleep(remaining)


@dataclass(frozen=True, slots=True)
class Registered:
    """A device registered at the center, with its broker password."""

    device_id: str
    password: str
    unit_id: int


class FaultRig:
    """Helpers over one broker, one center and the agents a scenario starts."""

    def __init__(self, tmp: Path, broker: MosquittoBroker, center: CenterHandle,
                 netns: Namespace | None = None) -> None:
        self.tmp = tmp
        self.broker = broker
        self.center = center
        self.netns = netns
        self.dues: list[Due] = []
        self.processes: dict[str, AgentProcess] = {}
        self.in_process: dict[str, InProcessAgent] = {}
        self.configs: dict[str, dict[str, Any]] = {}

    @property
    def api(self) -> httpx.Client:
        return self.center.api

    # --- the fleet at the center --------------------------------------------------------

    def unit(self, code: str | None = None, level: str = "commune") -> dict[str, Any]:
        return add_unit(self.api, code or f"xa-f{next(_seq)}", level)

    def device(self, unit: dict[str, Any], device_id: str | None = None,
               kind: str = "speaker") -> Registered:
        """Register a device and create its broker user; return id and password."""
        device_id = device_id or f"loa-f{next(_seq)}"
        created = add_device(self.api, device_id, unit, kind=kind, broker=self.broker)
        return Registered(device_id, created["mqtt_password"], unit["id"])

    def bulletin(self, seconds: float = 1.0, priority: str = "normal",
                 title: str = "Bản tin thử lỗi") -> dict[str, Any]:
        """An audio bulletin of a short tone, its media ready; ``["delivery"]`` is the
        rendition devices download (``sha256``, ``size``)."""
        wav = make_tone(self.tmp / f"tone-{next(_seq)}.wav", seconds, 440 + next(_seq))
        with wav.open("rb") as fh:
            r = self.api.post("/api/v1/media", files={"file": (wav.name, fh, "audio/wav")})
        assert r.status_code < 300, r.text
        sha = r.json()["sha256"]
        info = poll(lambda: self.api.get(f"/api/v1/media/{sha}/info").json(),
                    lambda i: i["state"] != "processing", 30, f"media {sha} processed")
        assert info["state"] == "ready", info
        r = self.api.post("/api/v1/bulletins", json={"title": title, "priority": priority,
                                                     "media_sha256": sha})
        assert r.status_code == 201, r.text
        bulletin: dict[str, Any] = r.json()
        bulletin["delivery"] = info["delivery"]
        return bulletin

    def schedule(self, bulletin: dict[str, Any], instants: Sequence[datetime],
                 device_ids: Sequence[str]) -> list[dict[str, Any]]:
        """One one-off schedule per instant for these devices; each (device, instant) is due."""
        made = []
        for at in instants:
            r = self.api.post("/api/v1/schedules", json={
                "bulletin_id": bulletin["id"], "start_at": at.isoformat(),
                "targets": {"device_ids": list(device_ids)}})
            assert r.status_code == 201, r.text
            schedule = r.json()
            made.append(schedule)
            self.dues += [Due(d, at.astimezone(UTC), schedule["id"]) for d in device_ids]
        return made

    # --- agents -------------------------------------------------------------------------

    def files(self, device_id: str) -> AgentFiles:
        base = self.tmp / "agents"
        (base / "logs").mkdir(parents=True, exist_ok=True)
        return AgentFiles(device_id=device_id, config=base / f"{device_id}.json",
                          data_dir=base / device_id, ledger=base / "ledgers" / f"{device_id}.jsonl",
                          play_log_dir=base / "plays", stderr=base / "logs" / f"{device_id}.log")

    def agent_config(self, device: Registered, *, netns: Namespace | None = None,
                     **sections: dict[str, Any]) -> dict[str, Any]:
        """The agent's JSON config: center key, broker (through ``netns``'s host address if
        given), ``health.time_url``, small retry delays; ``sections`` override per section."""
        host = netns.host_ip if netns is not None else self.broker.host
        base = self.center.base_url
        config: dict[str, Any] = {
            "device_id": device.device_id,
            "data_dir": str(self.files(device.device_id).data_dir),
            "center_public_keys": [self.center.public_key_b64],
            "mqtt": {"host": host, "port": self.broker.port, "password": device.password,
                     "keepalive_s": 3, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
            "cache": {"retry_min_s": 0.2, "retry_max_s": 1.0, "fetch_jitter_s": 0.0},
            "health": {"interval_s": 2.0, "time_url": f"{base}/api/v1/time"},
        }
        for name, values in sections.items():
            config[name] = {**config.get(name, {}), **values}
        return config

    def write_config(self, device: Registered, *, netns: Namespace | None = None,
                     **sections: dict[str, Any]) -> AgentFiles:
        files = self.files(device.device_id)
        config = self.agent_config(device, netns=netns, **sections)
        files.config.write_text(json.dumps(config, indent=2), encoding="utf-8")
        self.configs[device.device_id] = config
        return files

    def spawn_agent(self, device: Registered, *, netns: Namespace | None = None,
                    start: bool = True, **sections: dict[str, Any]) -> AgentProcess:
        """A ``python -m firmware_sim agent`` process (in ``netns`` if given)."""
        proc = AgentProcess(self.write_config(device, netns=netns, **sections), netns=netns)
        self.processes[device.device_id] = proc
        if start:
            proc.start()
        return proc

    def agent_in_process(self, device: Registered, *, clock: Clock | None = None,
                         start: bool = True, **sections: dict[str, Any]) -> InProcessAgent:
        """A real Agent in this process with simulated hardware, ``clock`` and the ledger."""
        files = self.write_config(device, netns=None, **sections)
        config: AgentConfig = config_from_dict(self.configs[device.device_id])
        agent = InProcessAgent(files, config, clock=clock)
        self.in_process[device.device_id] = agent
        if start:
            agent.start()
        return agent

    def stop_agents(self) -> None:
        for proc in self.processes.values():
            proc.terminate()
        for agent in self.in_process.values():
            agent.stop()

    # --- what happened ------------------------------------------------------------------

    def device_ids(self) -> list[str]:
        return sorted({*self.processes, *self.in_process, *self.configs})

    def made(self, device_ids: Sequence[str] | None = None) -> list[LedgerEntry]:
        return [e for d in device_ids or self.device_ids()
                for e in read_ledger(self.files(d).ledger)]

    def plays(self, device_id: str) -> list[PlayRecord]:
        return read_play_log(self.files(device_id).play_log)

    def stored(self, device_ids: Sequence[str] | None = None) -> list[StoredEvent]:
        ids = list(device_ids or self.device_ids())
        with self.center.center.sessions() as session:
            rows = session.execute(
                select(DeviceEventRecord.event_id, DeviceEventRecord.device_id,
                       DeviceEventRecord.type, DeviceEventRecord.received_at)
                .where(DeviceEventRecord.device_id.in_(ids))).all()
        return [StoredEvent(e, d, t, r.timestamp()) for e, d, t, r in rows]

    def online(self, device_id: str) -> bool:
        with self.center.center.sessions() as session:
            device = session.get(Device, device_id)
            return bool(device is not None and device.online)

    def center_manifest_version(self, device_id: str) -> int | None:
        with self.center.center.sessions() as session:
            state = session.get(ManifestState, device_id)
            return state.version if state is not None else None

    def wait_online(self, device_id: str, online: bool = True, timeout: float = 20.0) -> None:
        wait_until(lambda: self.online(device_id) is online, timeout,
                   f"the center to see {device_id} {'online' if online else 'offline'}")

    def wait_cached(self, device_id: str, sha256: str, timeout: float = 20.0) -> None:
        files = self.files(device_id)
        wait_until(lambda: files.cached(sha256), timeout, f"{sha256[:12]} cached on {device_id}")

    def wait_accepted(self, device_id: str, at_least: int = 1, timeout: float = 20.0) -> None:
        """Until the agent's ledger shows ``at_least`` accepted manifests."""
        def accepted() -> bool:
            return sum(1 for e in read_ledger(self.files(device_id).ledger)
                       if e.type == "manifest_accepted") >= at_least
        wait_until(accepted, timeout, f"{device_id} to accept {at_least} manifest(s)")

    def wait_stored(self, device_ids: Sequence[str] | None = None,
                    timeout: float = 30.0) -> None:
        """Until every event made by these agents is stored at the center."""
        def all_stored() -> bool:
            stored = {s.event_id for s in self.stored(device_ids)}
            return all(e.event_id in stored for e in self.made(device_ids)
                       if e.channel == "event")
        wait_until(all_stored, timeout, "every event made to be stored at the center")

    def wait_heard(self, timeout: float = 20.0, *, before: float | None = None) -> None:
        """Until every due play (whose instant is before ``before``, if given) is heard."""
        def heard() -> bool:
            for due in self.dues:
                instant = due.at.timestamp()
                if before is not None and instant > before:
                    continue
                if not any(abs(p.scheduled_at - instant) < 0.001
                           for p in self.plays(due.device_id)):
                    return False
            return True
        wait_until(heard, timeout, "every due play to be heard")

    def tally(self, *, fault_end: float | None = None,
              device_ids: Sequence[str] | None = None, due_before: float | None = None) -> Tally:
        """The scenario's figures over these devices (all the rig's agents by default);
        plays due are those whose instant is before ``due_before`` (now by default)."""
        ids = list(device_ids or self.device_ids())
        limit = time.time() if due_before is None else due_before
        dues = [d for d in self.dues if d.device_id in ids and d.at.timestamp() <= limit]
        return count(made=self.made(ids), stored=self.stored(ids),
                     plays={d: self.plays(d) for d in ids}, due=dues,
                     redeliveries=self.center.center.ingestor.snapshot()["duplicate"],
                     fault_end=fault_end)


@contextlib.contextmanager
def open_rig(tmp: Path, *, partition: bool = False, **center_overrides: Any
             ) -> Iterator[FaultRig]:
    """Start (namespace,) broker and center; yield the rig; stop everything in reverse order,
    agents first, even when the scenario failed."""
    tmp.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        netns = stack.enter_context(isolated_namespace()) if partition else None
        hosts = (netns.host_ip,) if netns is not None else ()
        broker = stack.enter_context(MosquittoBroker(tmp / "broker", extra_hosts=hosts))
        center = stack.enter_context(running_center(
            tmp / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
            mqtt_password=broker.center_password, extra_hosts=hosts,
            public_host=netns.host_ip if netns is not None else None, **center_overrides))
        rig = FaultRig(tmp, broker, center, netns)
        stack.callback(rig.stop_agents)
        yield rig
