"""The agent's long-lived MQTT session: persistent, with birth and last will.

Follows the discipline of a long-lived client: resubscribe on every connect, stop
retrying on bad credentials, one bad message never kills the loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.config import MqttConfig
from edge_agent.credentials import BrokerPasswords
from protocol.session import BAD_CREDENTIALS
from protocol.topics import Channel, device_topic

log = logging.getLogger(__name__)


class LinkState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    AUTH_FAILED = "auth_failed"
    STOPPED = "stopped"


class MqttLink:
    """Owns the paho client; reports connection changes, inbound messages and PUBACKs."""

    def __init__(
        self,
        *,
        device_id: str,
        config: MqttConfig,
        birth: Callable[[], bytes],
        will: bytes,
        on_message: Callable[[Channel, bytes], None],
        on_connected: Callable[[], None],
        on_disconnected: Callable[[], None],
        on_published: Callable[[int, bool, str], None],
        on_fault: Callable[[str, BaseException, str], None] | None = None,
        passwords: BrokerPasswords | None = None,
    ) -> None:
        self.device_id = device_id
        self._config = config
        self._passwords = passwords or BrokerPasswords(None, config.password)
        self._tried = 0  # passwords refused since the last successful login
        self._birth = birth
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_published = on_published
        self._on_fault = on_fault
        self.state = LinkState.DISCONNECTED
        self.connected_event = threading.Event()
        self._inbound = {
            device_topic(device_id, Channel.MANIFEST): Channel.MANIFEST,
            device_topic(device_id, Channel.CMD): Channel.CMD,
        }
        self._status_topic = device_topic(device_id, Channel.STATUS)
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5
        )
        self._username = config.username or device_id
        self._password = self._passwords.candidates()[0]
        client.username_pw_set(self._username, self._password)
        if config.tls_ca_file:
            client.tls_set(ca_certs=config.tls_ca_file)
        client.will_set(self._status_topic, will, qos=1, retain=True)
        client.reconnect_delay_set(
            min_delay=max(1, int(config.reconnect_min_s)), max_delay=int(config.reconnect_max_s)
        )
        client.max_inflight_messages_set(50)
        # Every callback runs in paho's network thread: one that raised would end the thread
        # (and the agent's link with it), so each is guarded.
        client.on_connect = self._guarded(self._handle_connect)
        client.on_disconnect = self._guarded(self._handle_disconnect)
        client.on_message = self._guarded(self._handle_message)
        client.on_publish = self._guarded(self._handle_publish)
        self._client = client

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._config.session_expiry_s
        self._client.connect_async(
            self._config.host,
            self._config.port,
            keepalive=self._config.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect cleanly (the will is not sent) and stop the network thread."""
        self.state = LinkState.STOPPED
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()

    def kill(self) -> None:
        """Drop the connection without a DISCONNECT, as a crash would (the will fires)."""
        self.state = LinkState.STOPPED
        sock = self._client.socket()
        self._client.loop_stop()
        if sock is not None:
            sock.close()

    def use_newest_password(self) -> None:
        """Log in with the newest password from the next connection on (a rotation)."""
        self._password = self._passwords.candidates()[0]
        self._client.username_pw_set(self._username, self._password)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int:
        """Queue a publish; returns the message id (PUBACK arrives via on_published)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return info.mid

    # paho callbacks (network thread) -------------------------------------------
    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        def guarded(*args: object) -> None:
            try:
                callback(*args)
            except Exception as exc:
                log.exception("MQTT callback %s failed", callback.__name__)
                if self._on_fault is not None:
                    try:
                        self._on_fault("mqtt", exc, f"{callback.__name__} skipped; the "
                                                    "network loop goes on")
                    except Exception:
                        log.exception("reporting the MQTT fault failed")
        return guarded

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused connection for %s: %s", self.device_id, reason)
            if reason.value in BAD_CREDENTIALS:
                candidates = self._passwords.candidates()
                self._tried += 1
                if self._tried < len(candidates):  # a rotated password not taken: fall back
                    self._password = candidates[self._tried]
                    client.username_pw_set(self._username, self._password)
                    log.warning("trying the previous broker password")
                    return
                self.state = LinkState.AUTH_FAILED
                log.error("bad credentials: not retrying; fix the agent config and restart")
                client.disconnect()
            return
        self._tried = 0
        self._passwords.worked(self._password)
        if self._passwords.candidates()[0] != self._password:
            self.use_newest_password()
        self.state = LinkState.CONNECTED
        client.subscribe([(topic, 1) for topic in self._inbound])
        client.publish(self._status_topic, self._birth(), qos=1, retain=True)
        self.connected_event.set()
        log.info("connected to %s:%s (session present: %s)", self._config.host,
                 self._config.port, flags.session_present)
        self._on_connected()

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected_event.clear()
        if self.state == LinkState.CONNECTED:
            self.state = LinkState.DISCONNECTED
        log.info("disconnected: %s", reason)
        self._on_disconnected()

    def _handle_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        channel = self._inbound.get(msg.topic)
        if channel is None:
            log.warning("message on unexpected topic %.120s dropped", msg.topic)
            return
        self._on_message(channel, bytes(msg.payload))  # guarded: a failure is an agent_fault

    def _handle_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        ok = not reason.is_failure
        if not ok:
            log.error("broker refused publish mid=%s: %s", mid, reason)
        self._on_published(mid, ok, "" if ok else f"refused by the broker: {reason}")
