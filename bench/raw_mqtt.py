"""The raw side of bench/fleet.py's ratios: the fastest client we have, doing only MQTT.

Same transport as the simulator (firmware_sim/fleetsim/mqtt.py: asyncio on uvloop, pipelined
QoS 1, TCP_NODELAY), none of the work around it. Each mode runs in its own process, prints
``{"ev": "ready"}`` once connected and prepared, waits for a line ``go`` on stdin, does the
work and prints ``{"ev": "result", ...}`` with ``time.time()`` stamps:

- ``publish SPEC``: one connection publishes every (topic, payload) of the spec, QoS 1
  retained, all pipelined; result: first publish and last PUBACK;
- ``reconnect SPEC``: connects every (device, password) of the spec (clean session, at most
  ``connects_in_flight`` connects at once), subscribes to its manifest topic and counts the
  retained messages; result: go and the last retained message received;
- ``events SPEC``: a subscriber to ``tt/v1/raw/+/event`` and a publisher of ``count`` QoS 1
  messages of ``size`` bytes to it; result: first publish and the subscriber's last message.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from firmware_sim.fleetsim.mqtt import MqttConnection, open_connection  # noqa: E402
from protocol.topics import Channel, device_topic  # noqa: E402


def say(ev: str, **fields: Any) -> None:
    print(json.dumps({"ev": ev, **fields}), flush=True)


async def go_signal() -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def publish(spec: dict[str, Any]) -> None:
    conn = await open_connection(spec["host"], spec["port"], client_id="raw-publisher",
                                 username=spec["username"], password=spec["password"])
    messages = [(topic, payload.encode()) for topic, payload in spec["messages"]]
    say("ready")
    await go_signal()
    started = time.time()
    acks = [conn.publish(topic, payload, qos=1, retain=True) for topic, payload in messages]
    await asyncio.gather(*acks)
    say("result", started=started, done=time.time(), messages=len(messages),
        bytes=sum(len(p) for _, p in messages))
    conn.disconnect()


async def reconnect(spec: dict[str, Any]) -> None:
    devices: list[list[str]] = spec["devices"]
    gate = asyncio.Semaphore(int(spec.get("connects_in_flight", 48)))
    remaining = len(devices)
    last = 0.0
    all_in = asyncio.Event()
    conns: list[MqttConnection] = []

    def received(topic: str, payload: bytes, retained: bool) -> None:
        nonlocal remaining, last
        remaining -= 1
        last = time.time()
        if remaining == 0:
            all_in.set()

    async def one(device: str, password: str) -> None:
        while True:
            try:
                async with gate:
                    conn = await open_connection(spec["host"], spec["port"], client_id=device,
                                                 username=device, password=password,
                                                 on_message=received)
                    await conn.subscribe([(device_topic(device, Channel.MANIFEST), 1)])
                conns.append(conn)
                return
            except (OSError, TimeoutError):  # the broker is not listening yet
                await asyncio.sleep(0.05)

    say("ready")
    await go_signal()
    started = time.time()
    await asyncio.gather(*(one(d, p) for d, p in devices))
    connected = time.time()
    await asyncio.wait_for(all_in.wait(), 120)
    say("result", started=started, connected=connected, done=last, devices=len(devices))
    for conn in conns:
        conn.disconnect()


async def events(spec: dict[str, Any]) -> None:
    count, size = int(spec["count"]), int(spec["size"])
    got = 0
    last = 0.0
    all_in = asyncio.Event()

    def received(topic: str, payload: bytes, retained: bool) -> None:
        nonlocal got, last
        got += 1
        last = time.time()
        if got == count:
            all_in.set()

    sub = await open_connection(spec["host"], spec["port"], client_id="raw-ingest",
                                username=spec["username"], password=spec["password"],
                                on_message=received)
    await sub.subscribe([("tt/v1/raw/+/event", 1)])
    pub = await open_connection(spec["host"], spec["port"], client_id="raw-events",
                                username=spec["username"], password=spec["password"])
    payload = b"x" * size
    say("ready")
    await go_signal()
    started = time.time()
    acks = [pub.publish(f"tt/v1/raw/d{i % 10000}/event", payload, qos=1) for i in range(count)]
    await asyncio.gather(*acks)
    await asyncio.wait_for(all_in.wait(), 120)
    say("result", started=started, done=last, messages=count)
    sub.disconnect()
    pub.disconnect()


MODES = {"publish": publish, "reconnect": reconnect, "events": events}


def main(argv: list[str]) -> int:
    mode, spec_path = argv
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    try:
        import uvloop
    except ImportError:
        asyncio.run(MODES[mode](spec))
    else:
        uvloop.run(MODES[mode](spec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
