"""Token buckets: at most ``burst`` calls at once, then ``per_minute`` a minute, per key.

The Open311 routes keep one set per application (``limits_of``): requests created per client
key, public lookups per client address. State is in memory: a restart refills every bucket.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from starlette.datastructures import State


@dataclass(frozen=True, slots=True)
class Rate:
    burst: int
    per_minute: float


CLIENT_RATE = Rate(burst=30, per_minute=6)
"""Service requests one Open311 client key may create."""
LOOKUP_RATE = Rate(burst=20, per_minute=10)
"""Public status lookups (``requests/{id}``) from one address."""


class TokenBuckets:
    """One bucket per key, created full; the least recently used keys are forgotten beyond
    ``max_keys`` (a forgotten key starts full again). Thread-safe."""

    def __init__(self, rate: Rate, *, max_keys: int = 100_000) -> None:
        self.rate = rate
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def wait(self, key: str, now: datetime) -> float:
        """Seconds until ``key`` has a token (0 when it has one now); takes nothing."""
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.rate.burst), now.timestamp()))
        tokens = min(float(self.rate.burst),
                     tokens + max(0.0, now.timestamp() - last) * self.rate.per_minute / 60)
        return 0.0 if tokens >= 1 else (1 - tokens) / (self.rate.per_minute / 60)

    def take(self, key: str, now: datetime) -> float:
        """Take one token: 0 when allowed, else the seconds until one is available."""
        at = now.timestamp()
        per_second = self.rate.per_minute / 60
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.rate.burst), at))
            tokens = min(float(self.rate.burst), tokens + max(0.0, at - last) * per_second)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / per_second
            self._buckets[key] = (tokens - 1 if wait == 0 else tokens, at)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    """The ``Retry-After`` header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))


@dataclass(frozen=True, slots=True)
class Open311Limits:
    clients: TokenBuckets = field(default_factory=lambda: TokenBuckets(CLIENT_RATE))
    lookups: TokenBuckets = field(default_factory=lambda: TokenBuckets(LOOKUP_RATE))


_CREATE = threading.Lock()


def limits_of(state: State) -> Open311Limits:
    """The limits kept on an application's ``state`` (made on first use)."""
    with _CREATE:
        limits = getattr(state, "open311_limits", None)
        if not isinstance(limits, Open311Limits):
            limits = Open311Limits()
            state.open311_limits = limits
        return limits
