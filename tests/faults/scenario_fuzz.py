"""Scenario 9: fuzzed MQTT payloads at an agent and at the center.

At the agent (in-process, so its threads can be counted): mutated signed manifests on its
manifest topic and mutated signed commands on its command topic, published with the center's
broker account and never retained (the real retained manifest stays). At the center: mutated
events, status and telemetry published as a registered device that runs no agent.

Accounting, message by message:
- agent: every message is refused with an event the center stores (``message_rejected``, or a
  ``command_ack`` rejected/expired), except replays of the manifest it holds and of a command
  it already carried out, which it drops as redeliveries; ``Agent.refusals`` counts reasons;
- center: every message ends as exactly one ingest outcome (``refused:<reason>``, ``event``,
  ``duplicate``, ``status``, ``dead_letter``...) or one telemetry outcome (``reports`` or
  ``refused:<reason>``); ``error:handler`` would be a crash caught at the last line.
Afterwards the agent still accepts a real manifest, the center still stores a valid event,
and no long-lived thread is missing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from control_center.models import DeviceEventRecord, ManifestState
from protocol.codec import encode
from protocol.events import (
    AgentFault,
    CommandAck,
    CommandOutcome,
    ManifestAccepted,
    MediaReady,
    MessageRejected,
    PlayCompleted,
    PlayStarted,
    Status,
)
from protocol.manifest import Command, SetVolume
from protocol.signing import Signer, load_private_key
from protocol.telemetry import HealthReport, HealthSample
from protocol.topics import Channel, device_topic
from tests.faults.fuzz_payloads import Fuzzed, Sealer, device_message, signed_message
from tests.faults.rig import FaultRig, Registered
from tests.faults.tally import ReliabilityRow
from tests.support.mqtt import MqttTestClient
from tests.support.waiting import wait_until

FUZZ_TEST = ".venv/bin/python -m pytest -q tests/faults/test_fuzz.py"
TRANSIENT_THREADS = ("AnyIO", "ThreadPoolExecutor", "Thread-", "asyncio_", "play-")
CENTER_FINAL = ("event", "status", "status_cleared", "duplicate", "error:handler")


@dataclass
class FuzzReport:
    """What one fuzz run sent and how each side accounted for it."""

    sent: Counter[str] = field(default_factory=Counter)  # "<topic channel>:<kind>" -> n
    outcomes: Counter[str] = field(default_factory=Counter)  # counted fates
    threads_lost: list[str] = field(default_factory=list)
    unaccounted: int = 0
    crashes: int = 0
    crash_kinds: Counter[str] = field(default_factory=Counter)  # exception type -> n
    refusals_counted: int | None = None  # the agent's own count (None: it keeps none)
    publish_s: float = 0.0  # generating and publishing (each publish waits for its PUBACK)
    settle_s: float = 0.0  # from the last publish until every message was accounted for

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def issues(self) -> tuple[str, ...]:
        """What misses the goal: crashes, messages without a counted fate, lost threads."""
        out = []
        if self.crashes:
            out.append(f"{self.crashes} crash(es) caught at a last line{_kinds(self.crash_kinds)}")
        if self.unaccounted:
            out.append(f"{self.unaccounted} message(s) without a counted fate")
        if self.threads_lost:
            out.append(f"threads lost: {self.threads_lost}")
        return tuple(out)


def publish_fuzzed(strategy: st.SearchStrategy[Fuzzed], examples: int,
                   publish: Callable[[bytes], object], sent: Counter[str], label: str) -> None:
    """Draw ``examples`` payloads with hypothesis and publish each once."""

    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(fuzzed: Fuzzed) -> None:
        publish(fuzzed.payload)
        sent[f"{label}:{fuzzed.kind}"] += 1

    one()


def settle(progress: Callable[[], int], target: int, timeout: float, quiet_s: float = 10.0
           ) -> int:
    """Wait until ``progress()`` reaches ``target``, or stops moving for ``quiet_s`` (a
    message that will never be accounted for), or ``timeout``; return the last value."""
    deadline = time.monotonic() + timeout
    last, moved = progress(), time.monotonic()
    while last < target and time.monotonic() < deadline:
        time.sleep(0.1)  # counters of other threads, without an event to wait on
        now = progress()
        if now != last:
            last, moved = now, time.monotonic()
        elif time.monotonic() - moved > quiet_s:
            break
    return last


class CaughtExceptions(logging.Handler):
    """Counts exceptions logged with a traceback under a package's loggers: what a last-line
    ``except Exception`` caught (a crash that did not kill the loop, but still a crash)."""

    def __init__(self, package: str) -> None:
        super().__init__(level=logging.ERROR)
        self._logger = logging.getLogger(package)
        self.kinds: Counter[str] = Counter()
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is not None:
            with self._lock2:
                self.kinds[record.exc_info[0].__name__] += 1

    @property
    def count(self) -> int:
        with self._lock2:
            return self.kinds.total()

    def __enter__(self) -> CaughtExceptions:
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)


def long_lived_threads() -> Counter[str]:
    return Counter(t.name for t in threading.enumerate()
                   if t.is_alive() and not t.name.startswith(TRANSIENT_THREADS))


def lost_threads(before: Counter[str]) -> list[str]:
    after = long_lived_threads()
    return sorted((before - after).elements())


def _center_client(rig: FaultRig) -> MqttTestClient:
    client = MqttTestClient(rig.broker.host, rig.broker.center_port, username="center",
                            password=rig.broker.center_password,
                            client_id=f"fuzz-center-{uuid.uuid4().hex[:6]}")
    client.connect()
    return client


def _agent_events(rig: FaultRig, device_id: str, since: datetime) -> list[dict[str, object]]:
    with rig.center.center.sessions() as session:
        rows = session.scalars(select(DeviceEventRecord.payload).where(
            DeviceEventRecord.device_id == device_id, DeviceEventRecord.at >= since)).all()
    return [json.loads(p) for p in rows]


def fuzz_agent(rig: FaultRig, *, manifests: int = 2500, commands: int = 2500,
               settle_timeout: float = 60.0) -> tuple[ReliabilityRow, FuzzReport]:
    """Fuzz one in-process agent's manifest and command topics."""
    with CaughtExceptions("edge_agent") as caught:
        return _fuzz_agent(rig, caught, manifests, commands, settle_timeout)


def _fuzz_agent(rig: FaultRig, caught: CaughtExceptions, manifests: int, commands: int,
                settle_timeout: float) -> tuple[ReliabilityRow, FuzzReport]:
    device = rig.device(rig.unit())
    agent = rig.agent_in_process(device).agent
    rig.wait_online(device.device_id)
    rig.wait_accepted(device.device_id)
    sealer = Sealer(load_private_key(rig.center.settings.signing_key_path))
    signer = Signer(load_private_key(rig.center.settings.signing_key_path))
    with rig.center.center.sessions() as session:
        state = session.get(ManifestState, device.device_id)
        assert state is not None, "the center built no manifest for the fuzzed agent"
        held = state.body.encode()
    threads = long_lived_threads()  # before this test's own client starts its thread
    client = _center_client(rig)
    cmd_topic = device_topic(device.device_id, Channel.CMD)
    manifest_topic = device_topic(device.device_id, Channel.MANIFEST)
    carried_out = _command(signer, device, minutes=60)
    client.publish(cmd_topic, carried_out)  # accepted: its replays are redeliveries
    wait_until(lambda: _volume_set(rig, device), 10, "the valid command to be carried out")

    report = FuzzReport()
    refusals_before, faults_before = _counter(agent, "refusals"), _counter(agent, "faults")
    since = datetime.now(UTC)
    body = json.loads(json.loads(held)["body"])
    manifest_strategy = signed_message(sealer, body, held, _other_device)
    command_strategy = signed_message(
        sealer, json.loads(json.loads(carried_out)["body"]), carried_out,
        lambda b: {**_other_device(b), "id": uuid.uuid4().hex},
        variants={"expired": lambda: _command(signer, device, minutes=-30)})
    started = time.monotonic()
    publish_fuzzed(manifest_strategy, manifests,
                   lambda p: client.publish(manifest_topic, p), report.sent, "manifest")
    publish_fuzzed(command_strategy, commands,
                   lambda p: client.publish(cmd_topic, p), report.sent, "cmd")
    client.close()
    report.publish_s = time.monotonic() - started
    started = time.monotonic()

    replays = sum(n for k, n in report.sent.items()
                  if k.startswith(("manifest:replay", "cmd:replay")))
    must_refuse = report.total - replays

    def refused_at_center() -> int:
        events = _agent_events(rig, device.device_id, since)
        return sum(1 for e in events if e.get("type") == "message_rejected"
                   or (e.get("type") == "command_ack"
                       and e.get("outcome") != CommandOutcome.ACCEPTED.value))

    def faults() -> int:
        """agent_fault events made, or exceptions caught at a last line, whichever is more
        (a handler's exception the agent logs without reporting it is a crash too)."""
        return max((_counter(agent, "faults") - faults_before).total(), caught.count)

    # A message that made the agent fault (an exception its loop caught) gets no refusal.
    settle(lambda: refused_at_center() + faults(), must_refuse, settle_timeout)
    rig.wait_stored([device.device_id], timeout=settle_timeout)
    report.settle_s = time.monotonic() - started
    report.outcomes["refused_with_event"] = refused_at_center()
    report.outcomes["dropped_as_redelivery"] = replays
    refusals = _counter(agent, "refusals") - refusals_before
    report.outcomes.update({f"agent.refusals[{k}]": v for k, v in refusals.items()})
    if hasattr(agent, "refusals"):
        report.refusals_counted = refusals.total()
    report.unaccounted = must_refuse - report.outcomes["refused_with_event"]
    report.crashes = faults()
    report.crash_kinds = Counter(caught.kinds)

    # Still alive: a real manifest is accepted after all that.
    accepted = sum(1 for e in rig.made([device.device_id]) if e.type == "manifest_accepted")
    bulletin = rig.bulletin(seconds=1.0)
    rig.schedule(bulletin, [datetime.now(UTC) + timedelta(hours=1)], [device.device_id])
    rig.wait_accepted(device.device_id, at_least=accepted + 1)
    # the events of that manifest (accepted, its media fetched) reach the center too
    rig.wait_stored([device.device_id], timeout=settle_timeout)
    report.threads_lost = lost_threads(threads)
    row = ReliabilityRow(
        "9a. Fuzzed payloads at an agent",
        f"{report.total} hypothesis-made messages ({manifests} manifest, {commands} command: "
        "bit flips, truncation, bad UTF-8, wrong types, huge numbers, deep nesting, wrong "
        "device, re-signed refusals, replays) at one agent, as the center's broker user.",
        rig.tally(device_ids=[device.device_id]), f"{FUZZ_TEST} -k agent",
        note=f"Refused with a reported reason: {report.outcomes['refused_with_event']}; "
             f"replays dropped: {replays}; crashes: {report.crashes}"
             f"{_kinds(report.crash_kinds)}; threads lost: {len(report.threads_lost)}.",
        issues=report.issues())
    return row, report


def _kinds(kinds: Counter[str]) -> str:
    return " (" + ", ".join(f"{k} x{n}" for k, n in kinds.most_common()) + ")" if kinds else ""


def _counter(agent: object, name: str) -> Counter[str]:
    """A copy of one of the agent's counters (``refusals``, ``faults``); empty when this
    agent version has none."""
    value = getattr(agent, name, None)
    return Counter(value) if isinstance(value, Counter) else Counter()


def _other_device(body: dict[str, object]) -> dict[str, object]:
    return {**body, "device_id": "loa-khac-99"}


def _command(signer: Signer, device: Registered, *, minutes: float) -> bytes:
    now = datetime.now(UTC)
    return signer.seal(Command(
        id=uuid.uuid4().hex, device_id=device.device_id, issued_at=now - timedelta(hours=1),
        expires_at=now + timedelta(minutes=minutes), action=SetVolume(level=63)))


def _volume_set(rig: FaultRig, device: Registered) -> bool:
    return any(e.type == "command_ack" for e in rig.made([device.device_id]))


def _device_seeds(device_id: str) -> tuple[list[dict[str, object]], dict[str, object],
                                           dict[str, object]]:
    now = datetime.now(UTC)
    base = {"device_id": device_id, "at": now}
    play = {"item_id": "s1r1-20260101T000000Z", "bulletin_id": 1, "priority": "normal",
            "scheduled_at": now,
            "started_at": now}
    events = [
        PlayStarted(event_id=uuid.uuid4().hex, **base, **play),
        PlayCompleted(event_id=uuid.uuid4().hex, **base, **play, ended_at=now),
        ManifestAccepted(event_id=uuid.uuid4().hex, **base, version=1),
        MediaReady(event_id=uuid.uuid4().hex, **base, sha256="a" * 64, size=10),
        MessageRejected(event_id=uuid.uuid4().hex, **base, channel="manifest", reason="x"),
        CommandAck(event_id=uuid.uuid4().hex, **base, command_id="c-1",
                   outcome=CommandOutcome.REJECTED),
        AgentFault(event_id=uuid.uuid4().hex, **base, component="player", error="boom"),
    ]
    status = Status(device_id=device_id, online=True, at=now, agent_version="fuzz")
    report = HealthReport(device_id=device_id, samples=(HealthSample(
        sample_id=uuid.uuid4().hex, at=now, cpu_temp_c=50.0, volume=10),))
    return ([json.loads(encode(e)) for e in events], json.loads(encode(status)),
            json.loads(encode(report)))


def fuzz_center(rig: FaultRig, *, events: int = 2500, statuses: int = 1250,
                telemetry: int = 1250, settle_timeout: float = 60.0
                ) -> tuple[ReliabilityRow, FuzzReport]:
    """Fuzz the center's event, status and telemetry topics as one registered device."""
    with CaughtExceptions("control_center") as caught:
        return _fuzz_center(rig, caught, events, statuses, telemetry, settle_timeout)


def _fuzz_center(rig: FaultRig, caught: CaughtExceptions, events: int, statuses: int,
                 telemetry: int, settle_timeout: float) -> tuple[ReliabilityRow, FuzzReport]:
    device = rig.device(rig.unit())
    event_seeds, status_seed, telemetry_seed = _device_seeds(device.device_id)
    threads = long_lived_threads()  # before this test's own client starts its thread
    client = MqttTestClient(rig.broker.host, rig.broker.port, username=device.device_id,
                            password=device.password, client_id=device.device_id)
    client.connect()
    center = rig.center.center
    report = FuzzReport()
    ingest_before, telemetry_before = center.ingestor.snapshot(), Counter(center.telemetry.counters)

    def to(channel: Channel) -> Callable[[bytes], object]:
        topic = device_topic(device.device_id, channel)
        return lambda payload: client.publish(topic, payload)

    started = time.monotonic()
    event_strategy = st.sampled_from(event_seeds).flatmap(
        lambda seed: device_message(seed, fresh_id_key="event_id"))
    publish_fuzzed(event_strategy, events, to(Channel.EVENT), report.sent, "event")
    publish_fuzzed(device_message(status_seed), statuses, to(Channel.STATUS), report.sent,
                   "status")
    publish_fuzzed(device_message(telemetry_seed), telemetry, to(Channel.TELEMETRY),
                   report.sent, "telemetry")
    report.publish_s = time.monotonic() - started
    started = time.monotonic()

    def ingest_done() -> int:
        """Messages with a final ingest outcome, plus those a handler failed on (kept as
        dead letters: a crash caught at the last line, counted as ``error:handler``)."""
        delta = center.ingestor.snapshot() - ingest_before
        return sum(n for k, n in delta.items() if k in CENTER_FINAL or k.startswith("refused:"))

    def telemetry_done() -> int:
        delta = Counter(center.telemetry.counters) - telemetry_before
        return sum(n for k, n in delta.items() if k == "reports" or k.startswith("refused:"))

    # A telemetry report a handler failed on is counted by the ingestor (error:handler).
    settle(lambda: ingest_done() + telemetry_done(), report.total, settle_timeout)
    report.settle_s = time.monotonic() - started
    delta = center.ingestor.snapshot() - ingest_before
    report.outcomes.update({f"ingest[{k}]": v for k, v in delta.items()})
    tdelta = Counter(center.telemetry.counters) - telemetry_before
    report.outcomes.update({f"telemetry[{k}]": v for k, v in tdelta.items()})
    report.unaccounted = max(0, report.total - ingest_done() - telemetry_done())
    report.crashes = max(delta["error:handler"], caught.count)
    report.crash_kinds = Counter(caught.kinds)

    # Still alive: a valid new event is stored.
    probe = MessageRejected(event_id=uuid.uuid4().hex, device_id=device.device_id,
                            at=datetime.now(UTC), channel="manifest", reason="after the fuzz")
    client.publish(device_topic(device.device_id, Channel.EVENT), encode(probe))
    client.close()
    wait_until(lambda: any(s.event_id == probe.event_id for s in rig.stored([device.device_id])),
               10, "a valid event to be stored after the fuzz")
    report.threads_lost = lost_threads(threads)
    tally = rig.tally(device_ids=[device.device_id])
    row = ReliabilityRow(
        "9b. Fuzzed payloads at the center",
        f"{report.total} hypothesis-made messages ({events} event, {statuses} status, "
        f"{telemetry} telemetry) published as one device: same mutations, replays of valid "
        "ones.", tally, f"{FUZZ_TEST} -k center",
        note=f"Each counted once: refused {sum(v for k, v in delta.items() if 'refused' in k)}"
             f" + {sum(v for k, v in tdelta.items() if 'refused' in k)} (telemetry), stored or "
             f"absorbed {delta['event'] + delta['duplicate'] + delta['status']}; crashes "
             f"{report.crashes}{_kinds(report.crash_kinds)}; threads lost "
             f"{len(report.threads_lost)}.", issues=report.issues())
    return row, report
