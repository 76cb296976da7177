"""A worker process: thousands of simulated devices on one asyncio (uvloop) event loop.

``python -m firmware_sim.fleetsim.worker SPEC.json`` where the spec holds the broker address,
the center's public keys, the store directory and ``devices: [[id, password], ...]``. Reports
go to stdout (:mod:`firmware_sim.fleetsim.report`); a line ``stop`` on stdin disconnects
every device cleanly and exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from edge_agent.store import LocalStore
from firmware_sim.fleetsim.device import DeviceLogic
from firmware_sim.fleetsim.node import LinkSettings, SimNode
from firmware_sim.fleetsim.report import Reporter
from protocol.signing import Verifier, public_key_from_b64

CONNECTS_IN_FLIGHT = 48  # the coordinator gives each worker its share of 96
PING_EVERY_S = 120.0


def rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _stdin_commands(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    loop.call_soon_threadsafe(stop.set)


async def run(spec: dict[str, Any]) -> None:
    reporter = Reporter()
    reporter.start()
    rss_before = rss_kb()
    verifier = Verifier([public_key_from_b64(k) for k in spec["public_keys"]])
    store_dir = Path(spec["store_dir"])
    link = LinkSettings(spec["host"], int(spec["port"]))
    gate = asyncio.Semaphore(int(spec.get("connects_in_flight", CONNECTS_IN_FLIGHT)))
    opened = time.process_time()
    nodes = [SimNode(DeviceLogic(device, verifier=verifier,
                                 store=LocalStore(store_dir / f"{device}.db")),
                     password, link=link, reporter=reporter, gate=gate)
             for device, password in spec["devices"]]
    stores_cpu = time.process_time() - opened
    rss_stores = rss_kb()
    started = time.time()
    tasks = [asyncio.create_task(node.run()) for node in nodes]
    await asyncio.gather(*(node.connected.wait() for node in nodes))
    reporter.flush()
    reporter.line("ready", devices=len(nodes), connect_s=time.time() - started,
                  rss_before=rss_before, rss_stores=rss_stores, rss=rss_kb(),
                  stores_open_cpu_s=stores_cpu, pid=os.getpid())
    stop = asyncio.Event()
    threading.Thread(target=_stdin_commands, args=(asyncio.get_running_loop(), stop),
                     daemon=True).start()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), PING_EVERY_S)
        except TimeoutError:
            for node in nodes:
                if node.conn is not None:
                    node.conn.ping()
    for node in nodes:
        node.stop()
    await asyncio.sleep(0.2)  # let the DISCONNECTs go out
    for task in tasks:
        task.cancel()
    reporter.flush()
    reporter.line("stopped", rss=rss_kb(), cpu_s=time.process_time())


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        import uvloop
    except ImportError:  # plain asyncio (epoll) works too, a little slower
        asyncio.run(run(spec))
    else:
        uvloop.run(run(spec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
