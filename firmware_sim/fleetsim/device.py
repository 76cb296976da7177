"""One simulated device's logic, through the agent's own code: no network, no event loop.

A manifest is opened by the agent's verifier (``protocol.signing.Verifier.open_manifest``:
signature, then strict parsing), checked against the held version by the agent's rules
(``edge_agent.agent.Agent._handle_manifest``: another device's or an older version refused,
the same version a replay), stored with ``edge_agent.store.LocalStore.save_manifest`` and
acknowledged with the agent's ``EventFactory.manifest_accepted``. Every event goes through the
store's outbox first, as the agent's do, and leaves it when the broker acknowledged it.

Not simulated: media download (items play at once), key rotation (``trusted_keys``), commands.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from edge_agent import AGENT_VERSION
from edge_agent.clock import Clock, SystemClock
from edge_agent.events import EventFactory
from edge_agent.play_outcome import OutcomeKind, PlayOutcome
from edge_agent.store import LocalStore
from protocol.codec import encode
from protocol.errors import ProtocolError
from protocol.events import Status
from protocol.manifest import Manifest, PlayItem
from protocol.signing import Verifier
from protocol.topics import Channel, device_topic


class Outcome(StrEnum):
    """What became of one manifest message (the agent's own cases)."""

    ACCEPTED = "accepted"
    REPLAY = "replay"  # the version held already, e.g. the retained copy on reconnect
    STALE = "stale"
    REFUSED = "refused"  # bad signature, malformed, or another device's


@dataclass(frozen=True, slots=True)
class Queued:
    """An event written to the outbox: send it, delete the row once acknowledged."""

    row_id: int
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class ManifestResult:
    outcome: Outcome
    version: int
    cpu_s: float  # verify + parse + store, process CPU time
    queued: tuple[Queued, ...] = ()


class DeviceLogic:
    """A device's manifest, store and events; every method is synchronous and quick."""

    def __init__(self, device_id: str, *, verifier: Verifier, store: LocalStore,
                 clock: Clock | None = None) -> None:
        self.device_id = device_id
        self.store = store
        self._verifier = verifier
        self._clock = clock or SystemClock()
        self._events = EventFactory(device_id, self._clock)
        self.event_topic = device_topic(device_id, Channel.EVENT)
        self.status_topic = device_topic(device_id, Channel.STATUS)
        self.manifest_topic = device_topic(device_id, Channel.MANIFEST)
        self.manifest: Manifest | None = None
        self.played: set[str] = set()
        saved = store.load_manifest()
        if saved is not None:
            try:
                self.manifest = verifier.open_manifest(saved[1])
            except ProtocolError:
                self.manifest = None

    @property
    def version(self) -> int:
        return self.manifest.version if self.manifest else 0

    def handle_manifest(self, raw: bytes) -> ManifestResult:
        """The agent's ``_handle_manifest``: verify, check the version, store, acknowledge."""
        started = time.process_time()
        try:
            manifest = self._verifier.open_manifest(raw)
        except ProtocolError as exc:
            queued = self._emit(self._events.rejected("manifest", f"{type(exc).__name__}: {exc}"))
            return ManifestResult(Outcome.REFUSED, 0, time.process_time() - started, (queued,))
        held = self.version
        if manifest.device_id != self.device_id:
            reason, outcome = f"manifest is for device {manifest.device_id!r}", Outcome.REFUSED
        elif manifest.version < held:
            reason, outcome = f"stale version {manifest.version} < held {held}", Outcome.STALE
        elif manifest.version == held:
            return ManifestResult(Outcome.REPLAY, held, time.process_time() - started)
        else:
            self.store.save_manifest(manifest.version, raw)
            self.manifest = manifest
            cpu = time.process_time() - started
            queued = self._emit(self._events.manifest_accepted(manifest.version))
            return ManifestResult(Outcome.ACCEPTED, manifest.version, cpu, (queued,))
        queued = self._emit(self._events.rejected("manifest", reason, manifest.version))
        return ManifestResult(outcome, manifest.version, time.process_time() - started, (queued,))

    def now(self) -> datetime:
        return self._clock.now()

    def upcoming(self, now: datetime) -> list[PlayItem]:
        """Items of the held manifest still to start, not played yet."""
        if self.manifest is None:
            return []
        return [i for i in self.manifest.items if i.start_at > now and i.item_id not in self.played]

    def play(self, item: PlayItem) -> tuple[Queued, Queued]:
        """Play ``item`` now (no audio: it ends as it starts): started, then completed."""
        self.played.add(item.item_id)
        now = self._clock.now()
        return (self._emit(self._events.play(PlayOutcome(item, OutcomeKind.STARTED, now))),
                self._emit(self._events.play(PlayOutcome(item, OutcomeKind.COMPLETED, now, now))))

    def birth(self) -> bytes:
        return encode(Status(device_id=self.device_id, online=True, at=self._clock.now(),
                             agent_version=AGENT_VERSION, manifest_version=self.version or None))

    def will(self) -> bytes:
        return encode(Status(device_id=self.device_id, online=False, at=self._clock.now(),
                             agent_version=AGENT_VERSION))

    def _emit(self, event: BaseModel) -> Queued:
        payload = encode(event)
        return Queued(self.store.outbox_add(self.event_topic, payload), self.event_topic, payload)
