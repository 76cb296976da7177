"""One simulated device on the network: its MQTT session around :class:`DeviceLogic`.

As the agent's link does: a persistent session (clean session off) with a retained last will,
the birth published retained on every connect, the inbound topics subscribed again on every
connect (so the retained manifest comes back after a broker restart), the outbox resent, and
reconnection with jittered back-off after a lost connection.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from firmware_sim.fleetsim.device import DeviceLogic, Outcome, Queued
from firmware_sim.fleetsim.mqtt import MqttConnection, MqttError, Will, open_connection
from firmware_sim.fleetsim.report import Reporter
from protocol.manifest import PlayItem
from protocol.topics import Channel, device_topic

OUTBOX_BATCH = 100


@dataclass(frozen=True, slots=True)
class LinkSettings:
    host: str
    port: int
    keepalive_s: int = 300
    retry_min_s: float = 0.1  # the agent waits longer; the bench measures the broker's side
    retry_max_s: float = 0.5
    timeout_s: float = 60.0


class SimNode:
    def __init__(self, logic: DeviceLogic, password: str, *, link: LinkSettings,
                 reporter: Reporter, gate: asyncio.Semaphore) -> None:
        self.logic = logic
        self._password = password
        self._link = link
        self._reporter = reporter
        self._gate = gate  # bounds connects in flight (the listen backlog)
        self._loop = asyncio.get_running_loop()
        self.conn: MqttConnection | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._in_flight: set[int] = set()
        self._stopping = False
        self.connected = asyncio.Event()
        device = logic.device_id
        self._inbound = [(device_topic(device, Channel.MANIFEST), 1),
                         (device_topic(device, Channel.CMD), 1)]

    async def run(self) -> None:
        """Connect, and reconnect after every loss, until :meth:`stop`."""
        delay = self._link.retry_min_s
        while not self._stopping:
            try:
                async with self._gate:
                    conn = await self._connect()
            except (OSError, MqttError, TimeoutError):
                await asyncio.sleep(random.uniform(0, delay))
                delay = min(delay * 2, self._link.retry_max_s)
                continue
            delay = self._link.retry_min_s
            await conn.closed
            self.connected.clear()
            self.conn = None
            self._in_flight.clear()

    async def _connect(self) -> MqttConnection:
        logic = self.logic
        conn = await open_connection(
            self._link.host, self._link.port, client_id=logic.device_id,
            username=logic.device_id, password=self._password, clean=False,
            keepalive=self._link.keepalive_s, on_message=self._on_message,
            will=Will(logic.status_topic, logic.will()), timeout=self._link.timeout_s)
        self.conn = conn
        subscribed = conn.subscribe(self._inbound)
        conn.publish(logic.status_topic, logic.birth(), qos=1, retain=True)
        await asyncio.wait_for(subscribed, self._link.timeout_s)
        self._reporter.conns.append([logic.device_id, time.time()])
        self.connected.set()
        self._resend()
        return conn

    def _on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic != self.logic.manifest_topic:
            return  # commands are not simulated
        received = time.time()
        result = self.logic.handle_manifest(payload)
        items: list[str] = []
        if result.outcome is Outcome.ACCEPTED:
            self._plan()
            manifest = self.logic.manifest
            items = [i.item_id for i in manifest.items] if manifest else []
        self._reporter.manifests.append([self.logic.device_id, result.outcome.value,
                                         result.version, received, time.time(),
                                         result.cpu_s, items])
        self._send(result.queued)

    def _plan(self) -> None:
        for timer in self._timers:
            timer.cancel()
        now = self.logic.now()
        self._timers = [self._loop.call_later((item.start_at - now).total_seconds(),
                                              self._play, item)
                        for item in self.logic.upcoming(now)]

    def _play(self, item: PlayItem) -> None:
        queued = self.logic.play(item)
        self._reporter.plays.append([self.logic.device_id, item.item_id, time.time()])
        self._send(queued)

    def _send(self, queued: tuple[Queued, ...] | list[Queued]) -> None:
        conn = self.conn
        if conn is None or not conn.connected:
            return  # stays in the outbox: resent on the next connect
        for q in queued:
            if q.row_id in self._in_flight:
                continue
            future = conn.publish(q.topic, q.payload, qos=1)
            assert future is not None
            self._in_flight.add(q.row_id)
            future.add_done_callback(lambda f, row=q.row_id: self._acked(f, row))

    def _acked(self, future: asyncio.Future[None], row_id: int) -> None:
        self._in_flight.discard(row_id)
        if future.cancelled() or future.exception() is not None:
            return
        self.logic.store.outbox_delete(row_id)
        self._reporter.acked += 1

    def _resend(self) -> None:
        rows = self.logic.store.outbox_pending(OUTBOX_BATCH, self._in_flight)
        self._send([Queued(r.id, r.topic, r.payload) for r in rows])

    def stop(self) -> None:
        self._stopping = True
        for timer in self._timers:
            timer.cancel()
        if self.conn is not None:
            self.conn.disconnect()
