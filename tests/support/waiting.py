"""Waiting on another component's state when it offers no event to await."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
INTERVAL_S = 0.05


def poll(fetch: Callable[[], T], until: Callable[[T], bool], timeout: float, what: str, *,
         interval: float = INTERVAL_S, describe: Callable[[T], str] = repr) -> T:
    """Poll (e.g. the center's HTTP API) until ``until(value)`` holds; return that value.

    ``fetch`` is called at least once. After ``timeout`` seconds an AssertionError names
    ``what`` and the last value (through ``describe``); whatever ``fetch`` raises goes through
    at once, so a fetch can fail fast (a process that exited).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                 f"last: {describe(value)}")
        time.sleep(interval)


def wait_until(predicate: Callable[[], T], timeout: float, what: str, *,
               interval: float = INTERVAL_S) -> T:
    """Poll ``predicate`` until it returns a truthy value, and return that value."""
    return poll(predicate, bool, timeout, what, interval=interval)
