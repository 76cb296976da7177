"""Ingest seats: how several center processes share the fleet's messages, losing none.

Each center process takes a *seat* (a cluster lock ``seat:N``) and connects to the broker as
``<client id>-s<N>`` with a persistent session, subscribed to the fleet's topics through one
MQTT 5 shared subscription (``$share/<client id>/tt/v1/dev/+/event``...): the broker hands
each message to one seat, and the center stores it once by its event id.

Mosquitto keeps a disconnected seat's session in the group: messages chosen for it wait in
its queue, and those it had received but not acknowledged stay in flight there. So when a
process dies (the database releases its seat lock at once), a surviving process *drains* the
seat: it connects as that seat, stops its share (UNSUBSCRIBE), takes every queued and
in-flight message through the same handler, and, once a marker it published to the seat has
come back (queued after everything else), ends the session. The seat is then free for the
process that replaces the dead one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from control_center.cluster.locks import ClusterLocks
from control_center.errors import ConfigError

log = logging.getLogger(__name__)

SHARE_PREFIX = "$share"
DRAIN_TOPIC = "tt/v1/center/drain"


def seat_lock(seat: int) -> str:
    return f"seat:{seat}"


def seat_client_id(base: str, seat: int) -> str:
    """The MQTT client id (and persistent session) of one seat."""
    return f"{base}-s{seat}"


def shared(filters: Sequence[str], group: str) -> list[str]:
    """The shared-subscription form of ``filters`` for the center's group."""
    return [f"{SHARE_PREFIX}/{group}/{f}" for f in filters]


def claim_seat(locks: ClusterLocks, *, seats: int, wait_s: float,
               retry_s: float = 0.25) -> int:
    """Take the lowest free seat, waiting up to ``wait_s`` (a dead process's seat is free
    again once a survivor has drained it); ``ConfigError`` when every seat stays taken."""
    deadline = time.monotonic() + wait_s
    while True:
        for seat in range(seats):
            if locks.try_acquire(seat_lock(seat)):
                return seat
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"all {seats} ingest seats are taken by other center processes: raise "
                "TT_INGEST_SEATS to the number of center processes you run")
        time.sleep(retry_s)


@dataclass(frozen=True, slots=True)
class DrainOptions:
    host: str
    port: int
    username: str
    password: str | None
    group: str  # the shared-subscription group, also the base of the seats' client ids
    filters: tuple[str, ...]  # the fleet filters, without the share prefix
    client_suffix: str = ""  # after the seat's client id (the center's id on other brokers)
    timeout_s: float = 30.0


class SeatDrain:
    """Empties one orphaned seat's sessions, on every broker, through ``handle`` (the
    ingest's handler)."""

    def __init__(self, brokers: Sequence[DrainOptions],
                 handle: Callable[[str, bytes], bool]) -> None:
        self._brokers = tuple(brokers)
        self._handle = handle

    def drain(self, seat: int) -> int:
        """Take every message waiting for ``seat`` on every broker; end its sessions.
        Returns how many were handled; raises ``TimeoutError`` or ``ConnectionError`` when
        a broker did not let it finish (the elector tries again on its next tick)."""
        return sum(self._drain_on(opts, seat) for opts in self._brokers)

    def _drain_on(self, opts: DrainOptions, seat: int) -> int:
        marker = f"{DRAIN_TOPIC}/{seat}"
        token = uuid.uuid4().hex.encode()
        done = threading.Event()
        failed: list[str] = []
        handled = 0

        client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                             client_id=seat_client_id(opts.group, seat) + opts.client_suffix,
                             protocol=paho.MQTTv5, manual_ack=True)
        client.username_pw_set(opts.username, opts.password)

        def on_connect(c: paho.Client, _u: Any, flags: Any, reason: ReasonCode,
                       _p: Properties | None) -> None:
            if reason.is_failure:
                failed.append(f"broker refused the connection: {reason}")
                done.set()
                return
            if not getattr(flags, "session_present", False):
                done.set()  # nothing was kept for this seat
                return
            c.unsubscribe(shared(opts.filters, opts.group))
            c.subscribe([(marker, SubscribeOptions(qos=1))])

        def on_subscribe(c: paho.Client, *_args: Any) -> None:
            c.publish(marker, token, qos=1)

        def on_message(c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
            nonlocal handled
            if msg.topic == marker:
                if bytes(msg.payload) == token:
                    done.set()
                c.ack(msg.mid, msg.qos)
                return
            ack = True
            try:
                ack = self._handle(msg.topic, bytes(msg.payload))
                handled += 1
            except Exception:
                log.exception("cluster: handler failed on %s while draining seat %d",
                              msg.topic[:120], seat)
            if ack and msg.qos > 0:
                c.ack(msg.mid, msg.qos)

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect(opts.host, opts.port, keepalive=30, clean_start=False, properties=props)
        client.loop_start()
        try:
            if not done.wait(opts.timeout_s):
                raise TimeoutError(f"seat {seat} was not drained within {opts.timeout_s:.0f} s")
            if failed:
                raise ConnectionError(failed[0])
        finally:
            end = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            end.SessionExpiryInterval = 0  # the seat's session ends with this connection
            client.disconnect(properties=end)
            client.loop_stop()
        log.info("cluster: drained seat %d on %s:%s (%d message(s))", seat, opts.host,
                 opts.port, handled)
        return handled
