"""Frozen configuration, one dataclass per subsystem, loaded from a JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.errors import ConfigError
from protocol.events import DeviceKind
from protocol.topics import validate_device_id


@dataclass(frozen=True, slots=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""
    password: str = ""
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    tls_ca_file: str | None = None
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0


@dataclass(frozen=True, slots=True)
class PlayerConfig:
    max_lateness_s: float = 900.0  # an item not started this long after its instant is missed
    preroll_s: float = 0.5  # the play thread gets ready this early, then starts on the instant
    report_delay_s: float = 0.3  # the "started" event and journal entry follow the start
    max_clock_offset_s: float = 1.0  # beyond this measured offset, play by the center's time
    default_volume: int = 80
    stall_after_s: float = 120.0  # a player loop silent this long refuses play-now commands


@dataclass(frozen=True, slots=True)
class CacheConfig:
    max_bytes: int = 2 * 1024**3
    rate_limit_bps: int = 0  # 0 = unlimited; caps bandwidth on paid 4G links
    fetch_jitter_s: float = 30.0  # spread a fleet's downloads of media not needed soon
    chunk_bytes: int = 64 * 1024
    retry_min_s: float = 1.0
    retry_max_s: float = 300.0
    http_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    inflight_window: int = 20
    max_rows: int = 50_000  # past this, the lowest-ranked rows are dropped (telemetry first)


@dataclass(frozen=True, slots=True)
class HousekeepingConfig:
    interval_s: float = 3600.0  # how often old records are pruned
    journal_keep_days: float = 30.0  # play journal entries (the horizon is days, not weeks)
    dead_letter_keep_days: float = 30.0  # outbox rows the broker refused


@dataclass(frozen=True, slots=True)
class HealthConfig:
    interval_s: float = 60.0  # 0 disables health sampling
    samples_per_report: int = 1  # >1 batches samples into one message (benchmarks, thin links)
    time_url: str | None = None  # the center's GET /api/v1/time, for the clock offset


@dataclass(frozen=True, slots=True)
class UpdateConfig:
    root: str | None = None  # managed root of the releases; None: $TT_AGENT_ROOT or /opt/tt-agent
    confirm_within_s: float | None = None  # set: replaces the update command's health window
    health_poll_s: float = 0.25  # how often a version on trial checks its health
    drain_timeout_s: float = 10.0  # how long the "restarting" report may take to be delivered


@dataclass(frozen=True, slots=True)
class AgentConfig:
    device_id: str
    data_dir: Path
    center_public_keys: tuple[str, ...]
    kind: DeviceKind = DeviceKind.SPEAKER
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    player: PlayerConfig = field(default_factory=PlayerConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    housekeeping: HousekeepingConfig = field(default_factory=HousekeepingConfig)
    update: UpdateConfig = field(default_factory=UpdateConfig)

    def __post_init__(self) -> None:
        validate_device_id(self.device_id)
        if not self.center_public_keys:
            raise ConfigError("center_public_keys is empty: the agent cannot verify manifests")


def _section(cls: type[Any], data: object, name: str) -> Any:
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ConfigError(f"section {name!r} must be an object")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"section {name!r}: {exc}") from exc


def config_from_dict(data: dict[str, Any]) -> AgentConfig:
    """Build an AgentConfig from parsed JSON, with errors naming the bad key."""
    try:
        keys = data["center_public_keys"]
        if isinstance(keys, str):
            keys = [keys]
        return AgentConfig(
            device_id=str(data["device_id"]),
            data_dir=Path(data["data_dir"]),
            center_public_keys=tuple(keys),
            kind=DeviceKind(data.get("kind", "speaker")),
            mqtt=_section(MqttConfig, data.get("mqtt"), "mqtt"),
            player=_section(PlayerConfig, data.get("player"), "player"),
            cache=_section(CacheConfig, data.get("cache"), "cache"),
            outbox=_section(OutboxConfig, data.get("outbox"), "outbox"),
            health=_section(HealthConfig, data.get("health"), "health"),
            housekeeping=_section(HousekeepingConfig, data.get("housekeeping"), "housekeeping"),
            update=_section(UpdateConfig, data.get("update"), "update"),
        )
    except KeyError as exc:
        raise ConfigError(f"missing key {exc.args[0]!r} in agent config") from exc
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def load_config(path: Path) -> AgentConfig:
    """Read the agent configuration from a JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read agent config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"agent config {path} must be a JSON object")
    return config_from_dict(data)
