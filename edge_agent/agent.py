"""The agent: one device's manifest, cache, player and outbox, wired to its MQTT link."""

from __future__ import annotations

import logging
import threading
import time
from enum import StrEnum

from pydantic import BaseModel

from edge_agent import AGENT_VERSION
from edge_agent.clock import Clock, SystemClock
from edge_agent.config import AgentConfig
from edge_agent.downloader import Downloader
from edge_agent.events import EventFactory
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
from edge_agent.media_cache import Fetched, MediaCache
from edge_agent.mqtt_link import MqttLink
from edge_agent.outbox import Ledger, Outbox
from edge_agent.player import Player, PlayOutcome
from edge_agent.store import LocalStore
from protocol.codec import encode
from protocol.errors import ProtocolError
from protocol.events import CommandOutcome, Status
from protocol.manifest import AudioContent, Manifest, PlayNow, SetVolume, StopPlayback
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
        self._clock = clock or SystemClock()
        self._amp = TrackedAmplifier(hardware.amplifier)
        self._volume = TrackedVolume(hardware.volume)
        hardware = Hardware(sink=hardware.sink, amplifier=self._amp, volume=self._volume)
        self._hw = hardware
        self._verifier = Verifier([public_key_from_b64(k) for k in config.center_public_keys])
        self._store = LocalStore(config.data_dir / "agent.sqlite3")
        self.cache = MediaCache(config.data_dir / "media", self._store, config.cache)
        self.outbox = Outbox(self._store, window=config.outbox.inflight_window, ledger=ledger)
        self._events = EventFactory(self.device_id, self._clock)
        self._event_topic = device_topic(self.device_id, Channel.EVENT)
        self._manifest_lock = threading.Lock()
        self.manifest: Manifest | None = None
        self.manifest_applied_at = 0.0  # wall-clock instant the current manifest took effect
        self.manifest_changed = threading.Condition()
        self._clock_probe = (CenterClockProbe(config.health.time_url, self._clock)
                             if config.health.time_url else None)
        self.player = Player(
            hardware=hardware, cache=self.cache, store=self._store, clock=self._clock,
            config=config.player, report=self._on_play, clock_distrust=self._clock_distrust,
        )
        self.downloader = Downloader(
            cache=self.cache, config=config.cache, on_ready=self._on_media_ready,
            on_failed=self._on_media_failed,
        )
        self.link = MqttLink(
            device_id=self.device_id, config=config.mqtt, birth=self._birth,
            will=encode(Status(device_id=self.device_id, online=False, at=self._clock.now(),
                               agent_version=AGENT_VERSION)),
            on_message=self._on_message,
            on_connected=lambda: self.outbox.connected(self._publish_event),
            on_disconnected=self.outbox.disconnected,
            on_published=self.outbox.published,
        )
        self._telemetry_topic = device_topic(self.device_id, Channel.TELEMETRY)
        self.health = HealthSampler(
            device_id=self.device_id, data_dir=config.data_dir, config=config.health,
            probe=probe or LinuxProbe(), clock=self._clock, emit=self._emit_health,
            clock_offset=self._clock_probe,
            facts=AgentFacts(
                amp_on=lambda: self._amp.on, volume=lambda: self._volume.level,
                cache_bytes=lambda: sum(size for _, size in self._store.media_by_age()),
                manifest_version=lambda: self.manifest.version if self.manifest else None,
                agent_version=AGENT_VERSION,
            ),
        )
        self._load_last_manifest()

    # lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        self.player.start()
        self.downloader.start()
        self.link.start()
        self.health.start()
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
        self.health.stop()
        if self._clock_probe is not None:
            self._clock_probe.close()
        self.downloader.stop()
        self.player.stop()
        self.cache.close()
        self._store.close()
        self.state = AgentState.STOPPED

    def _clock_distrust(self) -> str | None:
        """Why the device clock cannot be trusted for timed plays, or None if it can."""
        limit_s = self.config.player.max_clock_offset_s
        probe = self._clock_probe
        offset_ms = probe.last_offset_ms if probe is not None else None
        if limit_s <= 0 or offset_ms is None or abs(offset_ms) <= limit_s * 1000:
            return None
        return f"offset to the center {offset_ms / 1000:+.1f} s exceeds {limit_s:.1f} s"

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

    def _on_play(self, outcome: PlayOutcome) -> None:
        self._emit(self._events.play(outcome))

    def _on_media_ready(self, fetched: Fetched) -> None:
        self._emit(self._events.media_ready(fetched.sha256, fetched.size, fetched.resumed_from))
        self.cache.evict(keep=self.player.media_in_use())
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
            self._emit(self._events.rejected("manifest", f"{type(exc).__name__}: {exc}"))
            return
        with self._manifest_lock:
            held = self.manifest.version if self.manifest else 0
            if manifest.device_id != self.device_id:
                reason = f"manifest is for device {manifest.device_id!r}"
            elif manifest.version < held:
                reason = f"stale version {manifest.version} < held {held}"
            elif manifest.version == held:
                return  # the retained copy seen again on reconnect
            else:
                self._store.save_manifest(manifest.version, raw)
                self._apply(manifest)
                reason = ""
        if reason:
            log.warning("manifest refused: %s", reason)
            self._emit(self._events.rejected("manifest", reason, manifest.version))
            return
        log.info("manifest v%d accepted with %d items", manifest.version, len(manifest.items))
        self._emit(self._events.manifest_accepted(manifest.version))

    def _apply(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.manifest_applied_at = time.time()
        self.player.set_items(manifest.items)
        self.downloader.want(manifest.items)
        with self.manifest_changed:
            self.manifest_changed.notify_all()

    def _handle_command(self, raw: bytes) -> None:
        try:
            cmd = self._verifier.open_command(raw)
        except ProtocolError as exc:
            log.warning("command refused: %s", exc)
            self._emit(self._events.rejected("cmd", f"{type(exc).__name__}: {exc}"))
            return
        if cmd.device_id != self.device_id:
            self._emit(self._events.command_ack(cmd.id, CommandOutcome.REJECTED,
                                                f"command is for {cmd.device_id!r}"))
            return
        if self._store.command_seen(cmd.id, cmd.expires_at.timestamp()):
            return  # a redelivery of a command already handled
        if self._clock.now() > cmd.expires_at:
            self._emit(self._events.command_ack(cmd.id, CommandOutcome.EXPIRED))
            return
        action = cmd.action
        if isinstance(action, PlayNow):
            self.downloader.add(action.item)
            self.player.play_now(action.item)
        elif isinstance(action, StopPlayback):
            self.player.stop_current("stopped by command")
        elif isinstance(action, SetVolume):
            self._hw.volume.set_level(action.level)
        self._emit(self._events.command_ack(cmd.id, CommandOutcome.ACCEPTED))
