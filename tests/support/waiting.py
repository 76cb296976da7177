"""Waiting on another component's state when it offers no event to await."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def poll(fetch: Callable[[], Any], until: Callable[[Any], bool], timeout: float, what: str) -> Any:
    """Poll (e.g. the center's HTTP API) until a condition holds; fail with the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {value!r}")
        time.sleep(0.05)
