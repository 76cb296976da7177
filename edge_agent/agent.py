"""The agent: one device's manifest, cache, player and outbox, wired to its MQTT link.

Every long-lived loop runs supervised (``edge_agent.supervision``): what it did not expect is
logged, reported as an ``agent_fault`` event and survived. An emergency ``play_now`` is
acknowledged only once the player can play it (media cached, player advancing, amplifier
path sound); its validity is judged by the center's time (``CorrectedClock``).
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel

from edge_agent import AGENT_VERSION
from edge_agent.broker_move import adopt_broker, moved_config
from edge_agent.clock import Clock, CorrectedClock, SystemClock
from edge_agent.command_gate import CommandGate
from edge_agent.config import AgentConfig
from edge_agent.credentials import BrokerPasswords, TrustedKeys
from edge_agent.downloader import Downloader
from edge_agent.events import EventFactory
from edge_agent.faults import FaultReporter
from edge_agent.hardware import Hardware
from edge_agent.health import (
    AgentFacts,
    CenterClockProbe,
    HealthSampler,
    LinuxProbe,
    SystemProbe,
    TrackedAmplifier,
    TrackedVolume,
)
from edge_agent.housekeeper import DAY_S, Housekeeper
from edge_agent.live.capture import LiveCaptures
from edge_agent.live.runner import LiveRunner
from edge_agent.media_cache import Fetched, MediaCache
from edge_agent.mqtt_link import MqttLink
from edge_agent.outbox import Ledger, Outbox
from edge_agent.play_now import PlayNowCommands
from edge_agent.play_outcome import PlayOutcome
from edge_agent.player import Player
from edge_agent.speech.status import SpeechModelStatus
from edge_agent.store import LocalStore
from edge_agent.supervision import Heartbeats
from edge_agent.update.service import AgentUpdates
from edge_agent.update.trial import HealthChecks, player_stalled
from edge_agent.watchdog import Watchdog
from protocol.codec import encode
from protocol.errors import ProtocolError
from protocol.events import CommandOutcome, DeviceKind, Status
from protocol.manifest import (
    AudioContent,
    LiveCapture,
    Manifest,
    MoveBroker,
    PlayNow,
    RotateCredential,
    SetVolume,
    StopPlayback,
    UpdateAgent,
)
from protocol.signing import Verifier, public_key_from_b64
from protocol.telemetry import HealthReport
from protocol.topics import Channel, device_topic

log = logging.getLogger(__name__)


class AgentState(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"


class Agent:
    """Everything one loudspeaker or kiosk runs; `start()` returns at once."""

    def __init__(self, config: AgentConfig, hardware: Hardware, clock: Clock | None = None,
                 *, probe: SystemProbe | None = None, ledger: Ledger | None = None) -> None:
        self.config = config
        self.device_id = config.device_id
        self.state = AgentState.CREATED
        raw_clock = clock or SystemClock()
        self._clock = CorrectedClock(raw_clock, tolerance_s=config.player.max_clock_offset_s)
        self.heartbeats = Heartbeats()
        self.speech_model: SpeechModelStatus | None = None
        """Set by the kiosk once it has tried its speech model; reported in health samples."""
        self.refusals: Counter[str] = Counter()
        """Inbound messages refused, per ``channel:reason`` (fuzzing, bad senders)."""
        self.restart_needed = threading.Event()
        """Set when only a restart can recover (the entry point exits; systemd restarts)."""
        self.restart_reason = ""
        self._events = EventFactory(self.device_id, self._clock)
        self._fault = FaultReporter(events=self._events, emit=self._emit,
                                    restart_needed=self.restart_needed,
                                    request_restart=self.request_restart)
        self.faults = self._fault.counts
        """Unexpected failures since start, per component."""
        self._amp = TrackedAmplifier(hardware.amplifier)
        self._volume = TrackedVolume(hardware.volume)
        self._hw = hardware = dataclasses.replace(hardware, amplifier=self._amp,
                                                  volume=self._volume)
        self.trusted_keys = TrustedKeys(config.data_dir / "trusted_keys.json",
                                        config.center_public_keys)
        self._verifier = Verifier([public_key_from_b64(k) for k in self.trusted_keys.keys])
        self.passwords = BrokerPasswords(config.data_dir / "credentials.json",
                                         config.mqtt.password)
        self._store = LocalStore(config.data_dir / "agent.sqlite3")
        self.cache = MediaCache(config.data_dir / "media", self._store, config.cache)
        self.outbox = Outbox(self._store, window=config.outbox.inflight_window,
                             max_rows=config.outbox.max_rows, ledger=ledger,
                             on_fault=self._fault)
        self._gate = CommandGate(device_id=self.device_id, verifier=self._verifier,
                                 store=self._store, clock=self._clock, refusals=self.refusals,
                                 events=self._events, emit=self._emit, ack=self._ack)
        self._event_topic = device_topic(self.device_id, Channel.EVENT)
        self._manifest_lock = threading.Lock()
        self.manifest: Manifest | None = None
        self.manifest_applied_at = 0.0  # wall-clock instant the current manifest took effect
        self.manifest_changed = threading.Condition()
        self._clock_probe = (CenterClockProbe(config.health.time_url, raw_clock,
                                              on_reference=self._on_clock_reference)
                             if config.health.time_url else None)
        created_at = self._store.created_at
        self.live = None if hardware.live is None else LiveRunner(
            device_id=self.device_id, verifier=self._verifier, sink=hardware.live,
            clock=self._clock, cache=self.cache,
            on_source=lambda item, state, why: self._emit(self._events.live_source(item, state,
                                                                                  why)))
        self.player = Player(
            hardware=hardware, cache=self.cache, store=self._store, clock=self._clock,
            config=config.player, report=self._on_play, heartbeats=self.heartbeats,
            on_fault=self._fault,
            skip_before=datetime.fromtimestamp(created_at, UTC) if created_at else None,
            live=self.live, shows_text=config.kind is DeviceKind.KIOSK,
        )
        self.downloader = Downloader(
            cache=self.cache, config=config.cache, on_ready=self._on_media_ready,
            on_failed=self._on_media_failed, heartbeats=self.heartbeats, on_fault=self._fault,
            make_room=self._make_room,
        )
        self.link = MqttLink(
            device_id=self.device_id, config=moved_config(config.data_dir, config.mqtt),
            birth=self._birth,
            will=encode(Status(device_id=self.device_id, online=False, at=self._clock.now(),
                               agent_version=AGENT_VERSION)),
            on_message=self._on_message,
            on_connected=lambda: self.outbox.connected(self._publish_event),
            on_disconnected=self.outbox.disconnected,
            on_published=self.outbox.published,
            on_fault=self._fault, passwords=self.passwords,
        )
        self._telemetry_topic = device_topic(self.device_id, Channel.TELEMETRY)
        self.health = HealthSampler(
            device_id=self.device_id, data_dir=config.data_dir, config=config.health,
            probe=probe or LinuxProbe(), clock=self._clock, emit=self._emit_health,
            clock_offset=self._clock_probe, heartbeats=self.heartbeats,
            facts=AgentFacts(
                amp_on=lambda: self._amp.on, volume=lambda: self._volume.level,
                cache_bytes=self.cache.size,
                manifest_version=lambda: self.manifest.version if self.manifest else None,
                agent_version=AGENT_VERSION, heartbeats=self.heartbeats.ages,
                outbox_rows=self.outbox.pending, outbox_dropped=lambda: self.outbox.dropped,
                dead_letters=self._store.dead_letter_count,
                faults=lambda: sum(self.faults.values()),
                speech_model=lambda: self.speech_model,
            ),
        )
        keep = config.housekeeping
        self.housekeeper = Housekeeper(
            config=keep, heartbeats=self.heartbeats, on_fault=self._fault, chores=[
                ("outbox", self.outbox.flush_held),
                ("journal", lambda: self._store.journal_prune(keep.journal_keep_days * DAY_S)),
                ("dead_letters",
                 lambda: self._store.dead_letters_prune(keep.dead_letter_keep_days * DAY_S)),
                ("cache", lambda: self.cache.evict(self.player.next_need())),
            ])
        self.watchdog = Watchdog(self.heartbeats, stale_after_s=config.player.stall_after_s)
        if self._store.recovered:
            self._fault.store_recovered(self._store.recovered, self.cache.reindex())
        self.play_now = PlayNowCommands(
            store=self._store, player=self.player, downloader=self.downloader,
            cache=self.cache, verifier=self._verifier, ack=self._ack, on_fault=self._fault,
            stall_after_s=config.player.stall_after_s)
        self.captures = LiveCaptures(device_id=self.device_id, microphone=hardware.microphone,
                                     clock=self._clock, ack=self._ack, on_fault=self._fault)
        self.manifest_verified = threading.Event()  # one came from the broker since start
        self.updates = AgentUpdates(
            config=config, running_version=AGENT_VERSION, verifier=self._verifier,
            clock=self._clock, emit=self._emit, ack=self._ack, restart=self.request_restart,
            drained=self.outbox.wait_drained, checks=HealthChecks(
                connected=self.link.connected_event.is_set,
                manifest_verified=self.manifest_verified.is_set,
                player_problem=player_stalled(self.heartbeats, config.player.stall_after_s)))
        self._load_last_manifest()
        self.play_now.restore()

    # lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        self.player.start()
        self.downloader.start()
        self.link.start()
        self.health.start()
        self.housekeeper.start()
        self.watchdog.start()
        self.updates.start()
        self.state = AgentState.RUNNING

    def stop(self) -> None:
        """Clean stop: the broker sees a DISCONNECT (no will)."""
        self.link.stop()
        self._shutdown()

    def crash(self) -> None:
        """Stop as a power cut would look to the broker: the will fires."""
        self.link.kill()
        self._shutdown()

    def _shutdown(self) -> None:
        self.captures.stop()
        self.updates.stop()
        self.watchdog.stop()
        self.housekeeper.stop()
        self.health.stop()
        if self._clock_probe is not None:
            self._clock_probe.close()
        self.downloader.stop()
        self.player.stop()
        self.cache.close()
        self._store.close()
        self.state = AgentState.STOPPED

    def request_restart(self, reason: str) -> None:
        """Ask the entry point to exit with 75 (the launcher starts the agent again)."""
        self.restart_reason = reason
        self.restart_needed.set()

    def _on_clock_reference(self, center_s: float, monotonic_s: float) -> None:
        """A new measurement of the center's clock: the player re-reads its time at once
        (a clock found wrong by an hour changes every deadline)."""
        self._clock.anchor(center_s, monotonic_s)
        self.player.wake()

    @property
    def clock(self) -> CorrectedClock:
        """The clock the player times plays by (the center's time when the device's is off)."""
        return self._clock

    def _make_room(self, content: AudioContent) -> None:
        """The disk is full while fetching ``content``: drop files needed later than it."""
        need = self.player.next_need()
        when = need.get(content.sha256)
        evicted = self.cache.evict(need, max_bytes=max(0, self.cache.size() - content.size),
                                   needed_after=when)
        log.warning("disk full fetching %s: evicted %d file(s)", content.sha256[:12],
                    len(evicted))
        self.housekeeper.kick()

    # outbound -------------------------------------------------------------------
    def _publish_event(self, topic: str, payload: bytes) -> int:
        return self.link.publish(topic, payload, qos=1)

    def _emit(self, event: BaseModel) -> None:
        self.outbox.add(self._event_topic, event)

    def _emit_health(self, report: HealthReport) -> None:
        self.outbox.add(self._telemetry_topic, report)

    def _birth(self) -> bytes:
        version = self.manifest.version if self.manifest else None
        return encode(Status(device_id=self.device_id, online=True, at=self._clock.now(),
                             agent_version=AGENT_VERSION, manifest_version=version))

    def _ack(self, command_id: str, outcome: CommandOutcome, reason: str = "") -> None:
        self._emit(self._events.command_ack(command_id, outcome, reason))

    def _on_play(self, outcome: PlayOutcome) -> None:
        self.play_now.played(outcome)  # its acknowledgement goes before the play event
        self._emit(self._events.play(outcome))

    def _on_media_ready(self, fetched: Fetched) -> None:
        self._emit(self._events.media_ready(fetched.sha256, fetched.size, fetched.resumed_from))
        self.cache.evict(self.player.next_need())
        self.play_now.media_ready(fetched.sha256)
        self.player.wake()

    def _on_media_failed(self, content: AudioContent, reason: str) -> None:
        self._emit(self._events.media_failed(content.sha256, reason))

    # inbound --------------------------------------------------------------------
    def _on_message(self, channel: Channel, raw: bytes) -> None:
        if channel is Channel.MANIFEST:
            self._handle_manifest(raw)
        elif channel is Channel.CMD:
            self._handle_command(raw)

    def _load_last_manifest(self) -> None:
        saved = self._store.load_manifest()
        if saved is None:
            return
        try:
            manifest = self._verifier.open_manifest(saved[1])
        except ProtocolError as exc:  # e.g. the center's key was rotated away
            log.error("stored manifest no longer verifies (%s); waiting for a new one", exc)
            return
        self._apply(manifest)

    def _handle_manifest(self, raw: bytes) -> None:
        try:
            manifest = self._verifier.open_manifest(raw)
        except ProtocolError as exc:
            log.warning("manifest refused (%d bytes): %s", len(raw), exc)
            self.refusals[f"manifest:{type(exc).__name__}"] += 1
            self._emit(self._events.rejected("manifest", f"{type(exc).__name__}: {exc}"))
            return
        if manifest.device_id == self.device_id:
            self.manifest_verified.set()
        with self._manifest_lock:
            held = self.manifest.version if self.manifest else 0
            if manifest.device_id != self.device_id:
                reason = f"manifest is for device {manifest.device_id!r}"
            elif manifest.version < held:
                reason = f"stale version {manifest.version} < held {held}"
            elif manifest.version == held:
                self.refusals["manifest:replay"] += 1  # e.g. the retained copy on reconnect
                return
            else:
                self._save_manifest(manifest.version, raw)
                self._apply(manifest)
                self.trusted_keys.adopt(manifest, raw, self._verifier)
                reason = ""
        if reason:
            log.warning("manifest refused: %s", reason)
            self.refusals["manifest:" + reason.split(" ", 1)[0]] += 1
            self._emit(self._events.rejected("manifest", reason, manifest.version))
            return
        log.info("manifest v%d accepted with %d items", manifest.version, len(manifest.items))
        self._emit(self._events.manifest_accepted(manifest.version))

    def _save_manifest(self, version: int, raw: bytes) -> None:
        try:
            self._store.save_manifest(version, raw)
        except sqlite3.Error as exc:  # applied all the same; the broker keeps it retained
            self._fault("store", exc, f"manifest v{version} applied from memory only")

    def _apply(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.manifest_applied_at = time.time()
        self.player.set_items(manifest.items)
        self.downloader.want(manifest.items)
        with self.manifest_changed:
            self.manifest_changed.notify_all()

    def _handle_command(self, raw: bytes) -> None:
        cmd = self._gate.admit(raw)
        if cmd is None:
            return
        action = cmd.action
        if isinstance(action, PlayNow):
            if not self.play_now.take(cmd, action.item, raw):
                self.refusals["cmd:player_unable"] += 1
            return
        if isinstance(action, UpdateAgent):
            self.updates.take(cmd, action)  # acknowledged there (accepted or why not)
            return
        if isinstance(action, LiveCapture):
            self.captures.take(cmd, action)  # acknowledged there (accepted or why not)
            return
        if isinstance(action, RotateCredential):
            self.passwords.propose(action.password)  # stored before the acknowledgement
            self.link.use_newest_password()
        elif isinstance(action, StopPlayback):
            self.player.stop_current("stopped by command")
            self.captures.stop()
        elif isinstance(action, SetVolume):
            self._hw.volume.set_level(action.level)
        elif isinstance(action, MoveBroker):  # kept before the acknowledgement, like a password
            adopt_broker(self.config.data_dir, self.passwords, action.url, action.password)
        self._ack(cmd.id, CommandOutcome.ACCEPTED)
        if isinstance(action, MoveBroker):  # the ack goes out from the outbox after the restart
            self.request_restart(f"moved to the broker at {action.url}")
