"""Injectable clocks: the system clock, and the center's time as the agent best knows it.

The player times every play by ``CorrectedClock``: the device clock while it agrees with the
center (NTP keeps it precise to milliseconds), else the center's time carried forward on the
monotonic clock from the last measurement. A clock stepped by an hour, or a Pi booted
without a real-time clock, then still plays on the center's instant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, UTC-aware."""
        ...

    def real_seconds(self, span_s: float) -> float:
        """How many real seconds a span of this clock lasts (tests accelerate time)."""
        ...


class SystemClock:
    """The system clock (kept right by NTP/chrony on a Pi), plus an optional offset."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s

    def now(self) -> datetime:
        return datetime.fromtimestamp(datetime.now(UTC).timestamp() + self.offset_s, UTC)

    def real_seconds(self, span_s: float) -> float:
        return span_s


class AcceleratedClock:
    """A clock that runs ``rate`` times faster than real time from ``start`` (tests, benches:
    seven days offline in under a minute)."""

    def __init__(self, start: datetime, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._start = start.timestamp()
        self._mono = time.monotonic()
        self.rate = rate

    def now(self) -> datetime:
        return datetime.fromtimestamp(
            self._start + (time.monotonic() - self._mono) * self.rate, UTC)

    def real_seconds(self, span_s: float) -> float:
        return span_s / self.rate


@dataclass(frozen=True, slots=True)
class Reference:
    """The center's clock (epoch seconds) as measured at a monotonic instant."""

    center_s: float
    monotonic_s: float


class CorrectedClock:
    """The device clock, unless it disagrees with the last measured center time by more than
    ``tolerance_s``: then the center's time, carried forward on the monotonic clock."""

    def __init__(self, raw: Clock, *, tolerance_s: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.raw = raw
        self._tolerance_s = tolerance_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._reference: Reference | None = None
        self.corrected = False
        """Whether the last reading came from the reference instead of the device clock."""

    def anchor(self, center_s: float, monotonic_s: float) -> None:
        """Record a measurement of the center's clock (from the clock probe)."""
        with self._lock:
            self._reference = Reference(center_s, monotonic_s)

    @property
    def reference(self) -> Reference | None:
        return self._reference

    def now(self) -> datetime:
        raw = self.raw.now()
        ref = self._reference
        if ref is None or self._tolerance_s <= 0:
            self.corrected = False
            return raw
        center_s = ref.center_s + (self._monotonic() - ref.monotonic_s)
        self.corrected = abs(raw.timestamp() - center_s) > self._tolerance_s
        return datetime.fromtimestamp(center_s, UTC) if self.corrected else raw

    def real_seconds(self, span_s: float) -> float:
        return self.raw.real_seconds(span_s)
