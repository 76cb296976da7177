"""Device -> center health telemetry: one report carries one or more samples.

Each sample has its own ``sample_id`` (uuid hex) and its own instant ``at``: a sample taken
while the device was offline keeps the time it was taken, and a re-delivered sample is the
same point again (the center writes it with the device tag and this instant, so InfluxDB
overwrites it instead of counting it twice).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from protocol.base import FrozenModel, UtcDatetime

MAX_SAMPLES_PER_REPORT = 500
INT64_MAX = 2**63 - 1
_INT_FIELDS = ("disk_free_bytes", "cache_bytes", "manifest_version", "outbox_rows",
               "outbox_dropped", "dead_letters", "faults")


class NetworkType(StrEnum):
    ETHERNET = "ethernet"
    WIFI = "wifi"
    CELLULAR = "cellular"  # 3G/4G modem
    NONE = "none"
    UNKNOWN = "unknown"


class SpeechModelState(StrEnum):
    """The kiosk's speech model, as the agent found it when it started voice input."""

    INSTALLED = "installed"  # present and complete (on a kiosk: loaded)
    MISSING = "missing"  # nothing at the configured speech.model_path
    FAILED = "failed"  # present but incomplete, or Vosk could not load it


class HealthSample(FrozenModel):
    """The state of one device at one instant; a reading the device cannot take is null."""

    sample_id: str = Field(min_length=8, max_length=64)
    at: UtcDatetime
    cpu_temp_c: float | None = None
    load1: float | None = Field(default=None, ge=0)
    mem_used_pct: float | None = Field(default=None, ge=0, le=100)
    disk_free_bytes: int | None = Field(default=None, ge=0)
    disk_free_pct: float | None = Field(default=None, ge=0, le=100)
    uptime_s: float | None = Field(default=None, ge=0)
    net_type: NetworkType = NetworkType.UNKNOWN
    signal_dbm: int | None = Field(default=None, ge=-150, le=0)
    amp_on: bool = False
    volume: int = Field(default=0, ge=0, le=100)
    clock_offset_ms: float | None = None
    """Center clock minus device clock, as last measured; null when never measured."""
    cache_bytes: int = Field(default=0, ge=0)
    agent_version: str = Field(default="", max_length=40)
    manifest_version: int | None = None
    heartbeats: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict,
                                                                 max_length=16)
    """Seconds since each long-lived loop of the agent last went round (``player``,
    ``downloader``, ``mqtt``, ``health``, ``housekeeper``); a loop that stops advancing while
    the device still reports is a silent failure."""
    outbox_rows: int | None = Field(default=None, ge=0)
    """Messages waiting in the outbox."""
    outbox_dropped: int = Field(default=0, ge=0)
    """Outbox rows dropped to keep under the cap since the agent started (telemetry first)."""
    dead_letters: int = Field(default=0, ge=0)
    """Outbox rows the broker refused, set aside instead of retried (held on the device)."""
    faults: int = Field(default=0, ge=0)
    """``agent_fault`` events made since the agent started."""
    speech_model: str | None = Field(default=None, max_length=80)
    """The speech model's name (the archive it was installed from, else its folder) and the
    first 12 hex digits of that archive's SHA-256 when the installer recorded it; null on a
    device without voice input."""
    speech_model_state: SpeechModelState | None = None

    @model_validator(mode="after")
    def _within_64_bits(self) -> HealthSample:
        """Integers a database column can hold (the fast JSON path accepts any size)."""
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if value is not None and value > INT64_MAX:
                raise ValueError(f"{name} is out of range (64-bit)")
        return self


class HealthReport(FrozenModel):
    """Published on ``tt/v1/dev/{device}/telemetry`` (QoS 1, through the outbox)."""

    type: Literal["health"] = "health"
    v: Literal[1] = 1
    device_id: str
    samples: tuple[HealthSample, ...] = Field(min_length=1, max_length=MAX_SAMPLES_PER_REPORT)
