"""The worker's control channel: batched JSON lines on stdout, read by the coordinator.

One line per flush (every ``interval_s`` while anything happened), so 10,000 devices cost a
few lines a second, each record stamped with ``time.time()`` where it happened:

- ``{"ev": "batch", "t", "manifests": [[device, outcome, version, t_received, t_done, cpu_s,
  [item ids]]], "conns": [[device, t_connected]], "plays": [[device, item_id, t]],
  "acked": n}`` (``acked``: events the broker acknowledged since the last line);
- ``{"ev": "ready", ...}`` once every device connected the first time; ``{"ev": "stopped"}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, TextIO


class Reporter:
    def __init__(self, out: TextIO = sys.stdout, interval_s: float = 0.05) -> None:
        self._out = out
        self._interval = interval_s
        self.manifests: list[list[Any]] = []
        self.conns: list[list[Any]] = []
        self.plays: list[list[Any]] = []
        self.acked = 0
        self._task: asyncio.Task[None] | None = None

    def line(self, ev: str, **fields: Any) -> None:
        self._out.write(json.dumps({"ev": ev, "t": time.time(), **fields}) + "\n")
        self._out.flush()

    def flush(self) -> None:
        if self.manifests or self.conns or self.plays or self.acked:
            self.line("batch", manifests=self.manifests, conns=self.conns, plays=self.plays,
                      acked=self.acked)
            self.manifests, self.conns, self.plays, self.acked = [], [], [], 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.flush()
