"""The center's long-lived MQTT connection: publish with acknowledgement, receive with care.

One paho-mqtt client (MQTT v5, persistent session) runs its network loop in a thread.
Subscriptions are renewed on every connect, reconnects back off, bad credentials stop the
loop with one clear log line, and a failing message handler never kills the loop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from control_center.errors import BrokerUnavailable
from protocol.session import BAD_CREDENTIALS

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], bool]
"""Called with (topic, payload); return False to leave a QoS 1 message unacknowledged."""
BatchHandler = Callable[[list[tuple[str, bytes]]], list[bool]]
"""Called with the messages waiting, in arrival order; one ``MessageHandler`` answer each."""
INGEST_BATCH = 100  # messages handed over at once at most (the receive maximum's default)
ConnectedHook = Callable[[bool], None]
"""Called in the loop thread after each successful connect with CONNACK's session-present
flag (see ``MqttBridge._handle_connect``); must not publish or wait."""


class BridgeState(StrEnum):
    """Where the connection stands (shown by ``/healthz``)."""

    IDLE = "idle"  # not started
    CONNECTING = "connecting"  # started, waiting for the first connection
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # lost; the loop reconnects with back-off
    AUTH_FAILED = "auth_failed"  # bad credentials: the loop has stopped retrying
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class MqttOptions:
    host: str
    port: int
    username: str
    password: str | None
    client_id: str
    session_expiry_s: int
    keepalive_s: int = 30
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30
    receive_maximum: int = 100  # unacknowledged messages the broker may send us (MQTT 5)


class MqttBridge:
    """Owns the paho client; thread-safe publishing; dispatches messages to one handler."""

    def __init__(
        self,
        *,
        options: MqttOptions,
        subscriptions: Sequence[str],
        on_message: MessageHandler,
        on_connected: ConnectedHook | None = None,
        on_messages: BatchHandler | None = None,
    ) -> None:
        """``on_messages``: when given, every message already waiting is handed over in one
        call (a burst of events is then stored in few transactions)."""
        self.options = options
        self._subscriptions = tuple(subscriptions)
        self._handler = on_message
        self._batch_handler = on_messages
        self._inbox: queue.Queue[paho.MQTTMessage | None] = queue.Queue()
        self._ingest_thread: threading.Thread | None = None
        self._on_connected = on_connected
        self._connected = threading.Event()
        self._loop_thread: int | None = None
        self.state = BridgeState.IDLE
        self.last_error = ""
        self._client = self._make_client()

    def _make_client(self) -> paho.Client:
        opts = self.options
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=opts.client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        client.username_pw_set(opts.username, opts.password)
        client.reconnect_delay_set(opts.reconnect_min_s, opts.reconnect_max_s)
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        return client

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; the loop retries until the broker answers."""
        opts = self.options
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = opts.session_expiry_s
        # Bounds the ingest inbox: without it the broker may send up to 65,535 unacknowledged
        # messages (telemetry reports are up to 256 kB each) while the handler is slow.
        props.ReceiveMaximum = opts.receive_maximum
        self.state = BridgeState.CONNECTING
        self._client.connect_async(
            opts.host, opts.port, keepalive=opts.keepalive_s, clean_start=False, properties=props
        )
        self._ingest_thread = threading.Thread(
            target=self._ingest_loop, name="mqtt-ingest", daemon=True
        )
        self._ingest_thread.start()
        self._client.loop_start()
        log.info("MQTT: connecting to %s:%s as %r", opts.host, opts.port, opts.username)

    def stop(self) -> None:
        """Disconnect cleanly (the persistent session keeps queuing events for us)."""
        self.state = BridgeState.STOPPED
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        if self._ingest_thread is not None:
            self._inbox.put(None)
            self._ingest_thread.join(timeout=30)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # -- publishing ----------------------------------------------------------------------

    def publish_and_wait(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
        timeout: float = 10.0,
    ) -> None:
        """Publish and block until the broker acknowledged (PUBACK for QoS 1)."""
        info = self._publish(topic, payload, qos, retain)
        self._wait(info, topic, timeout)

    def publish_many(
        self, messages: Sequence[tuple[str, bytes]], *, qos: int = 1, retain: bool = False,
        timeout: float = 10.0,
    ) -> list[bool]:
        """Publish every message, then wait for all acknowledgements within one deadline.

        Returns, per message, whether the broker acknowledged it. Never raises for the broker.
        """
        return self.wait_many(self.send_many(messages, qos=qos, retain=retain), timeout=timeout)

    def send_many(
        self, messages: Sequence[tuple[str, bytes]], *, qos: int = 1, retain: bool = False,
    ) -> list[tuple[str, paho.MQTTMessageInfo | None]]:
        """Hand every message to the client without waiting; see ``wait_many``."""
        if not self.connected:
            return [(topic, None) for topic, _ in messages]
        sent: list[tuple[str, paho.MQTTMessageInfo | None]] = []
        for topic, payload in messages:
            try:
                sent.append((topic, self._publish(topic, payload, qos, retain)))
            except BrokerUnavailable as exc:
                log.warning("MQTT: %s", exc)
                sent.append((topic, None))
        return sent

    def wait_many(
        self, sent: Sequence[tuple[str, paho.MQTTMessageInfo | None]], *, timeout: float,
    ) -> list[bool]:
        """Per message from ``send_many``: did the broker acknowledge it before the deadline."""
        deadline = time.monotonic() + timeout
        results = []
        for topic, info in sent:
            if info is None:
                results.append(False)
                continue
            try:
                self._wait(info, topic, max(0.0, deadline - time.monotonic()))
                results.append(True)
            except BrokerUnavailable as exc:
                log.warning("MQTT: %s", exc)
                results.append(False)
        return results

    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> paho.MQTTMessageInfo:
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("publish_and_wait called from the MQTT loop thread would deadlock")
        if not self.connected:
            raise BrokerUnavailable(self._unreachable())
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise BrokerUnavailable(f"publishing to {topic} failed: {paho.error_string(info.rc)}")
        return info

    def _wait(self, info: paho.MQTTMessageInfo, topic: str, timeout: float) -> None:
        try:
            info.wait_for_publish(timeout)
        except (ValueError, RuntimeError) as exc:
            raise BrokerUnavailable(f"publishing to {topic} failed: {exc}") from exc
        if not info.is_published():
            raise BrokerUnavailable(
                f"the MQTT broker did not acknowledge {topic} within {timeout:.1f} s; "
                "it stays queued and is sent when the connection returns"
            )

    def _unreachable(self) -> str:
        opts = self.options
        why = f" ({self.last_error})" if self.last_error else ""
        return f"not connected to the MQTT broker at {opts.host}:{opts.port}{why}"

    # -- paho callbacks (run in the loop thread) ---------------------------------------------

    def _handle_connect(
        self, client: paho.Client, _userdata: Any, flags: Any, reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        """Subscribe again, then tell ``on_connected`` whether the broker had our session.

        ``session_present`` False on *any* connect, the first one included, means the broker
        holds nothing of ours: a new client id, a session that expired, or a broker that
        lost its persistence file, and with it every retained manifest (Mosquitto keeps
        sessions and retained messages in the same file). The center cannot tell these
        apart, and republishing costs one unchanged message per device (an agent ignores a
        version it holds), so the runtime republishes every manifest each time. With the
        session present the store survived, retained messages included; a manifest lost any
        other way is caught when its device reports an older version.
        """
        self._loop_thread = threading.get_ident()
        if reason.is_failure:
            self.last_error = f"broker refused the connection: {reason}"
            if reason.value in BAD_CREDENTIALS:
                self.state = BridgeState.AUTH_FAILED
                log.error(
                    "MQTT: broker %s:%s refused user %r (%s); not retrying: "
                    "check TT_MQTT_USERNAME / TT_MQTT_PASSWORD and the broker's password file",
                    self.options.host, self.options.port, self.options.username, reason,
                )
                client.disconnect()
            else:
                log.warning("MQTT: connection refused: %s; retrying", reason)
            return
        self.state = BridgeState.CONNECTED
        self.last_error = ""
        client.subscribe([(t, SubscribeOptions(qos=1)) for t in self._subscriptions])
        self._connected.set()
        session_present = bool(getattr(flags, "session_present", False))
        log.info("MQTT: connected to %s:%s (session present: %s)", self.options.host,
                 self.options.port, session_present)
        if self._on_connected is not None:
            try:
                self._on_connected(session_present)
            except Exception:
                log.exception("MQTT: on_connected hook failed")

    def _handle_connect_fail(self, _client: paho.Client, _userdata: Any) -> None:
        self.last_error = "broker unreachable"
        log.debug("MQTT: connection attempt to %s:%s failed", self.options.host, self.options.port)

    def _handle_disconnect(
        self, _client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if self.state in (BridgeState.STOPPED, BridgeState.AUTH_FAILED):
            return
        self.state = BridgeState.DISCONNECTED
        if was_connected:
            self.last_error = f"connection lost: {reason}"
            log.warning("MQTT: disconnected (%s); reconnecting with back-off", reason)

    def _handle_message(self, client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        """Hand the message to the ingest worker: paho's network thread must never wait on
        the database, or PUBACKs for the manifests we publish would stall behind it. The
        queue stays small: with manual acks the broker sends at most its in-flight window."""
        self._inbox.put(msg)

    def _ingest_loop(self) -> None:
        while True:
            msg = self._inbox.get()
            if msg is None:
                return
            if self._batch_handler is None:
                self._ingest_one(self._client, msg)
                continue
            batch = [msg]
            while len(batch) < INGEST_BATCH:
                try:
                    more = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._ingest_batch(self._client, batch)
                    return
                batch.append(more)
            self._ingest_batch(self._client, batch)

    def _ingest_batch(self, client: paho.Client, batch: list[paho.MQTTMessage]) -> None:
        assert self._batch_handler is not None
        try:
            acks = self._batch_handler([(m.topic, bytes(m.payload)) for m in batch])
        except Exception:
            log.exception("MQTT: handler failed on %d message(s)", len(batch))
            acks = [True] * len(batch)
        for msg, ack in zip(batch, acks, strict=True):
            if ack and msg.qos > 0:
                client.ack(msg.mid, msg.qos)

    def _ingest_one(self, client: paho.Client, msg: paho.MQTTMessage) -> None:
        ack = True
        try:
            ack = self._handler(msg.topic, bytes(msg.payload))
        except Exception:
            log.exception("MQTT: handler failed on %s (%d bytes)", msg.topic[:120],
                          len(msg.payload))
        if ack and msg.qos > 0:
            client.ack(msg.mid, msg.qos)
