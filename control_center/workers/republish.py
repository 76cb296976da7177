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
from collections.abc import Callable, Iterable

from control_center.workers.manifest_sync import ManifestSync

log = logging.getLogger(__name__)


class Republisher:
    def __init__(self, *, interval_s: float, wake: Callable[[], None],
                 devices_on: Callable[[str], Iterable[str]] | None = None) -> None:
        """``devices_on(broker)``: the devices of one broker (with several brokers, one that
        lost its store costs a republish of its own devices only)."""
        self._interval = interval_s
        self._wake = wake
        self._devices_on = devices_on
        self._brokers: set[str] = set()
        self._lock = threading.Lock()
        self._everything = False
        self._devices: set[str] = set()
        self._last: dict[str, float] = {}
        self.counters: Counter[str] = Counter()
        """'all' (broker without our session), 'device' (a device behind), 'throttled'."""

    def everything(self, broker: str | None = None) -> None:
        """Every stored manifest (of ``broker``'s devices, if given) goes out again: the
        broker may have lost them all."""
        with self._lock:
            if broker is None or self._devices_on is None:
                self._everything = True
            else:
                self._brokers.add(broker)
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

    def asked_at(self, device_id: str) -> float | None:
        """When (``time.monotonic``) this device's last resend was decided, if ever."""
        with self._lock:
            return self._last.get(device_id)

    def apply(self, sync: ManifestSync) -> int:
        """Mark what was asked for unpublished (the caller then publishes); in the refresher."""
        with self._lock:
            everything, self._everything = self._everything, False
            devices, self._devices = self._devices, set()
            brokers, self._brokers = self._brokers, set()
        if not everything and not devices and not brokers:
            return 0
        try:
            if brokers and not everything and self._devices_on is not None:
                devices |= {d for b in sorted(brokers) for d in self._devices_on(b)}
            marked = sync.mark_unpublished(None if everything else devices)
        except Exception:
            with self._lock:  # asked again on the next run
                self._everything |= everything
                self._devices |= devices
                self._brokers |= brokers
            raise
        log.info("manifests: %d marked for publishing again (%s)", marked,
                 "all: the broker had no session for the center" if everything
                 else f"{len(devices)} device(s): behind, or on a broker without our session")
        return marked
