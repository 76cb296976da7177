"""Simulated Pi sensors: plausible, slowly drifting readings that tests can steer."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from edge_agent.health import SystemReadings
from protocol.telemetry import NetworkType


@dataclass(frozen=True, slots=True)
class SimConditions:
    """What the simulated device is going through; change it with ``SimSensors.set``."""

    cpu_temp_c: float = 52.0
    load1: float = 0.3
    mem_used_pct: float = 38.0
    disk_total_bytes: int = 16 * 1024**3
    disk_free_pct: float = 71.0
    net_type: NetworkType = NetworkType.CELLULAR
    signal_dbm: int = -85


class SimSensors:
    """A ``SystemProbe`` for firmware_sim: base conditions plus a little seeded noise."""

    def __init__(self, device_id: str, conditions: SimConditions | None = None,
                 *, noise: bool = True) -> None:
        self._rng = random.Random(device_id)
        self._lock = threading.Lock()
        self._conditions = conditions or SimConditions()
        self._noise = noise
        self._boot = time.monotonic() - self._rng.uniform(3600, 30 * 86400)

    @property
    def conditions(self) -> SimConditions:
        return self._conditions

    def set(self, **changes: object) -> None:
        """E.g. ``sensors.set(cpu_temp_c=86.0)`` for an overheating enclosure."""
        with self._lock:
            self._conditions = replace(self._conditions, **changes)  # type: ignore[arg-type]

    def read(self, data_dir: Path) -> SystemReadings:
        with self._lock:
            c = self._conditions
        jitter = self._rng.uniform(-1.0, 1.0) if self._noise else 0.0
        uptime = time.monotonic() - self._boot
        free_pct = min(100.0, max(0.0, c.disk_free_pct + jitter * 0.05))
        return SystemReadings(
            cpu_temp_c=round(c.cpu_temp_c + 2.0 * jitter + math.sin(uptime / 600.0), 2),
            load1=round(max(0.0, c.load1 + 0.1 * jitter), 2),
            mem_used_pct=round(min(100.0, max(0.0, c.mem_used_pct + jitter)), 1),
            disk_free_bytes=int(c.disk_total_bytes * free_pct / 100.0),
            disk_free_pct=round(free_pct, 2),
            uptime_s=round(uptime, 1),
            net_type=c.net_type,
            signal_dbm=(max(-150, min(0, c.signal_dbm + int(3 * jitter)))
                        if c.net_type in (NetworkType.CELLULAR, NetworkType.WIFI) else None),
        )
