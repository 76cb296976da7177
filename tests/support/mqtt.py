"""Blocking MQTT test clients over paho-mqtt 2.2 that wait on acknowledgements, never sleep."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, LogLevel, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

logger = logging.getLogger(__name__)

Protocol = Literal["3.1.1", "5"]
DEFAULT_TIMEOUT = 5.0
NOT_AUTHORIZED = 135  # MQTT 5 reason code 0x87, in PUBACK, SUBACK and CONNACK

_PROTOCOLS = {"3.1.1": MQTTProtocolVersion.MQTTv311, "5": MQTTProtocolVersion.MQTTv5}


class ConnectRefusedError(ConnectionError):
    """The broker answered CONNECT with a failure reason code."""

    def __init__(self, username: str, reason: ReasonCode) -> None:
        super().__init__(f"broker refused {username!r}: {reason} ({reason.value})")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class MqttTestClient:
    """One connected paho client that records what it receives and waits for acks."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str,
        password: str,
        protocol: Protocol = "5",
        client_id: str | None = None,
        clean: bool = True,
        session_expiry: int = 0,
    ) -> None:
        self.username = username
        self.protocol = protocol
        self._host, self._port = host, port
        self._clean, self._session_expiry = clean, session_expiry
        # A device's broker account only accepts its own id as client id; the center may open
        # several connections, each with an id of its own.
        self.client_id = client_id or (f"test-{username}-{secrets.token_hex(3)}"
                                       if username == "center" else username)
        v311 = protocol == "3.1.1"
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=_PROTOCOLS[protocol],
            clean_session=clean if v311 else None,  # MQTT 5 takes clean_start at connect
        )
        self._client.username_pw_set(username, password)
        self._client.on_log = self._on_log
        self._cond = threading.Condition()
        self._connack: ReasonCode | None = None
        self._connected = False
        self._disconnects = 0
        self._closing = False
        self._session_present = False
        self._pubacks: dict[int, ReasonCode] = {}
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._messages: list[ReceivedMessage] = []
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect

    # --- paho callbacks (run on the network thread) ----------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags,
                    reason: ReasonCode, properties: Properties | None) -> None:
        with self._cond:
            self._connack = reason
            self._connected = not reason.is_failure
            self._session_present = flags.session_present
            self._cond.notify_all()

    def _on_log(self, client: mqtt.Client, userdata: object, level: int, buf: str) -> None:
        # After a wanted disconnect paho 2.2's loop thread makes one more pass over the closed
        # socket and reports it as an error; that one line is expected noise.
        if self._closing and buf.startswith("Client is not connected"):
            return
        logger.log(mqtt.LOGGING_LEVEL[LogLevel(level)], "%s: %s", self.client_id, buf)

    def _on_disconnect(self, client: mqtt.Client, userdata: object,
                       flags: mqtt.DisconnectFlags, reason: ReasonCode,
                       properties: Properties | None) -> None:
        with self._cond:
            self._connected = False
            self._disconnects += 1
            self._cond.notify_all()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, reason: ReasonCode,
                    properties: Properties) -> None:
        with self._cond:
            self._pubacks[mid] = reason
            self._cond.notify_all()

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int,
                      reasons: list[ReasonCode], properties: Properties) -> None:
        with self._cond:
            self._subacks[mid] = reasons
            self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        with self._cond:
            self._messages.append(ReceivedMessage(message.topic, bytes(message.payload),
                                                  message.qos, bool(message.retain)))
            self._cond.notify_all()

    # --- blocking API ------------------------------------------------------------------------

    def _wait(self, predicate: Callable[[], bool], what: str, timeout: float) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise TimeoutError(f"{self.client_id}: no {what} within {timeout}s")

    def connect(self, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """Connect and wait for CONNACK; return session_present, raise ConnectRefusedError."""
        self._connack = None
        kwargs: dict[str, object] = {}
        if self.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self._session_expiry
            kwargs = {"clean_start": self._clean, "properties": props}
        self._client.connect(self._host, self._port, keepalive=30, **kwargs)  # type: ignore[arg-type]
        self._client.loop_start()
        try:
            self._wait(lambda: self._connack is not None, "CONNACK", timeout)
        except TimeoutError:
            self.close()
            raise
        assert self._connack is not None
        if self._connack.is_failure:
            self.close()
            raise ConnectRefusedError(self.username, self._connack)
        return self._session_present

    def subscribe(self, topic: str, qos: int = 1, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Subscribe and return the granted QoS / reason code value from SUBACK."""
        result, mid = self._client.subscribe(topic, qos)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectionError(f"{self.client_id}: subscribe failed locally: {result}")
        self._wait(lambda: mid in self._subacks, f"SUBACK for {topic}", timeout)
        return self._subacks[mid][0].value

    def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False,
                timeout: float = DEFAULT_TIMEOUT) -> int:
        """Publish and, for QoS > 0, wait for the broker's ack; return its reason code value."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"{self.client_id}: publish failed locally: {info.rc}")
        if qos == 0:
            return 0
        self._wait(lambda: info.mid in self._pubacks, f"PUBACK for {topic}", timeout)
        return self._pubacks[info.mid].value

    def wait_for(self, predicate: Callable[[ReceivedMessage], bool], what: str = "message",
                 timeout: float = DEFAULT_TIMEOUT) -> ReceivedMessage:
        """Block until a received message satisfies ``predicate``; return the first such one."""
        try:
            self._wait(lambda: any(map(predicate, self._messages)), what, timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; received: {[m.topic for m in self.messages]}") from None
        return next(m for m in self.messages if predicate(m))

    def wait_for_message(self, topic: str, payload: bytes | None = None,
                         timeout: float = DEFAULT_TIMEOUT) -> ReceivedMessage:
        """Block until a message on ``topic`` (and with ``payload``, if given) has arrived."""
        return self.wait_for(
            lambda m: m.topic == topic and (payload is None or m.payload == payload),
            f"message on {topic}", timeout,
        )

    @property
    def disconnects(self) -> int:
        """How many times this client lost its connection (a wanted close counts too)."""
        with self._cond:
            return self._disconnects

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of everything received so far, in arrival order."""
        with self._cond:
            return list(self._messages)

    def received_on(self, topic: str) -> list[ReceivedMessage]:
        return [m for m in self.messages if m.topic == topic]

    def close(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Disconnect cleanly (DISCONNECT sent, so no will) and stop the network thread."""
        with self._cond:
            connected = self._connected
            self._closing = True
        if connected:
            self._client.disconnect()
            self._wait(lambda: not self._connected, "disconnect", timeout)
        self._client.loop_stop()


def connect_client(host: str, port: int, username: str, password: str, *,
                   protocol: Protocol = "5", client_id: str | None = None, clean: bool = True,
                   session_expiry: int = 0, timeout: float = DEFAULT_TIMEOUT) -> MqttTestClient:
    """Create a client, connect it and wait for a successful CONNACK."""
    client = MqttTestClient(host, port, username=username, password=password, protocol=protocol,
                            client_id=client_id, clean=clean, session_expiry=session_expiry)
    client.connect(timeout=timeout)
    return client


class MqttClients:
    """Connects test clients to one broker and closes every one of them at the end: devices
    to ``port``, the center to ``center_port`` (the dev broker's two listeners)."""

    def __init__(self, host: str, port: int, *, center_port: int, center_password: str) -> None:
        self._host, self._port, self._center_port = host, port, center_port
        self._center_password = center_password
        self._clients: list[MqttTestClient] = []

    def connect(self, username: str, password: str, *, protocol: Protocol = "5",
                client_id: str | None = None, clean: bool = True, session_expiry: int = 0,
                timeout: float = DEFAULT_TIMEOUT, port: int | None = None) -> MqttTestClient:
        """A connected client (CONNACK success awaited) that is closed at teardown; on the
        device listener unless ``port`` says otherwise."""
        client = MqttTestClient(self._host, port or self._port, username=username,
                                password=password,
                                protocol=protocol, client_id=client_id, clean=clean,
                                session_expiry=session_expiry)
        self._clients.append(client)
        client.connect(timeout=timeout)
        return client

    def center(self, *, protocol: Protocol = "5", client_id: str | None = None,
               clean: bool = True, session_expiry: int = 0) -> MqttTestClient:
        """A client logged in as the broker user ``center``."""
        return self.connect("center", self._center_password, protocol=protocol,
                            client_id=client_id, clean=clean, session_expiry=session_expiry,
                            port=self._center_port)

    def close_all(self) -> None:
        for client in self._clients:
            try:
                client.close()
            except (OSError, TimeoutError) as exc:  # the broker may already be gone
                logger.debug("closing %s: %s", client.client_id, exc)
        self._clients.clear()
