"""Machine-readable progress of a simulated fleet, as JSON lines on stdout.

A parent process (the benchmark) runs several fleet processes and reads these lines to learn
when each device held a new manifest and when each play really started.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from firmware_sim.fleet import Fleet, SimDevice


def rss_bytes() -> int:
    """Resident memory of this process (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class FleetReporter:
    """Writes `ready`, `manifest` and `play` lines for every device of a fleet."""

    def __init__(self, fleet: Fleet, stop: threading.Event, out: TextIO = sys.stdout) -> None:
        self._fleet = fleet
        self._stop = stop
        self._out = out
        self._lock = threading.Lock()

    def emit(self, **fields: object) -> None:
        with self._lock:
            self._out.write(json.dumps(fields) + "\n")
            self._out.flush()

    def start(self, rss_before: int) -> None:
        missing = self._fleet.wait_connected(60)
        self.emit(ev="ready", devices=len(self._fleet.devices), missing=missing,
                  rss_before=rss_before, rss=rss_bytes())
        for device in self._fleet.devices.values():
            threading.Thread(target=self._watch_manifest, args=(device,), daemon=True).start()
            threading.Thread(target=self._watch_plays, args=(device,), daemon=True).start()

    def _watch_manifest(self, device: SimDevice) -> None:
        agent = device.agent
        seen = 0
        while not self._stop.is_set():
            with agent.manifest_changed:
                agent.manifest_changed.wait_for(
                    lambda s=seen: (agent.manifest.version if agent.manifest else 0) > s, 1.0)
                version = agent.manifest.version if agent.manifest else 0
                applied_at = agent.manifest_applied_at
            if version > seen:
                seen = version
                self.emit(ev="manifest", device=agent.device_id, version=version, t=applied_at)

    def _watch_plays(self, device: SimDevice) -> None:
        sink = device.sink
        seen = 0
        while not self._stop.is_set():
            with sink.changed:
                sink.changed.wait(1.0)
                new = sink.records[seen:]
            for record in new:
                self.emit(ev="play", rss=rss_bytes(), **asdict(record))
            seen += len(new)
