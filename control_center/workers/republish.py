"""Manifests to publish again although their content did not change.

Two reasons: the broker has no session for the center (``MqttBridge`` says so on connect: a
broker that lost its persistence lost the retained manifests with it), or a device reports an
older manifest version than the center published (``services.manifest_lag``). Requests come
from the MQTT ingest thread and the monitor; the refresher thread marks the stored manifests
unpublished and publishes them (never the MQTT loop thread). A device is republished at most
once per ``interval_s``, so a device that refuses its manifest cannot cause a publish loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from control_center.workers.manifest_sync import ManifestSync

log = logging.getLogger(__name__)


class Republisher:
    def __init__(self, *, interval_s: float, wake: Callable[[], None]) -> None:
        self._interval = interval_s
        self._wake = wake
        self._lock = threading.Lock()
        self._everything = False
        self._devices: set[str] = set()
        self._last: dict[str, float] = {}
        self.counters: Counter[str] = Counter()
        """'all' (broker without our session), 'device' (a device behind), 'throttled'."""

    def everything(self) -> None:
        """Every stored manifest goes out again (the broker may have lost them all)."""
        with self._lock:
            self._everything = True
            self.counters["all"] += 1
        self._wake()

    def device(self, device_id: str) -> bool:
        """This device's manifest goes out again, unless it did within ``interval_s``."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(device_id)
            if last is not None and now - last < self._interval:
                self.counters["throttled"] += 1
                return False
            self._last[device_id] = now
            self._devices.add(device_id)
            self.counters["device"] += 1
        log.info("manifests: %s reports an older version; publishing it again", device_id)
        self._wake()
        return True

    def apply(self, sync: ManifestSync) -> int:
        """Mark what was asked for unpublished (the caller then publishes); in the refresher."""
        with self._lock:
            everything, self._everything = self._everything, False
            devices, self._devices = self._devices, set()
        if not everything and not devices:
            return 0
        try:
            marked = sync.mark_unpublished(None if everything else devices)
        except Exception:
            with self._lock:  # asked again on the next run
                self._everything |= everything
                self._devices |= devices
            raise
        log.info("manifests: %d marked for publishing again (%s)", marked,
                 "all: the broker had no session for the center" if everything
                 else f"{len(devices)} device(s) behind")
        return marked
