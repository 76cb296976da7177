"""Several brokers behind one publishing interface (docs/devices.md, "Several brokers").

The center holds one ``MqttBridge`` per broker of the registry, every one feeding the same
receiver. ``BrokerRouter`` is what the rest of the center publishes through (``Publisher``):
each message goes to the broker of the device named in its topic, from ``DeviceBrokers``, a
device -> broker map loaded from the database, told at once of devices registered or moved in
this process, and reloaded when older than ``max_age_s`` (for changes made by another center
process). ``AccountsRouter`` does the same for the device accounts (``BrokerAccounts``). With
one broker (the default) nothing is looked up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import paho.mqtt.client as paho

from control_center.broker.accounts import BrokerAccounts, BrokerUnavailable
from control_center.broker.registry import MAIN, BrokerConfig, BrokerRegistry
from control_center.mqtt_bridge import (
    BatchHandler,
    BridgeState,
    ConnectedHook,
    MessageHandler,
    MqttBridge,
    MqttOptions,
)
from protocol.errors import TopicError
from protocol.topics import parse_topic

log = logging.getLogger(__name__)

Sent = list[tuple[str, paho.MQTTMessageInfo | None]]
LoadBrokers = Callable[[Collection[str] | None], Mapping[str, str]]
"""The brokers of these devices (None: of every device), from the database."""


class Publisher(Protocol):
    """What the center publishes through: one ``MqttBridge`` or a ``BrokerRouter``."""

    @property
    def connected(self) -> bool: ...

    @property
    def state(self) -> BridgeState: ...

    @property
    def last_error(self) -> str: ...

    def wait_connected(self, timeout: float) -> bool: ...

    def publish_and_wait(self, topic: str, payload: bytes, *, qos: int = 1,
                         retain: bool = False, timeout: float = 10.0) -> None: ...

    def publish_many(self, messages: Sequence[tuple[str, bytes]], *, qos: int = 1,
                     retain: bool = False, timeout: float = 10.0) -> list[bool]: ...

    def send_many(self, messages: Sequence[tuple[str, bytes]], *, qos: int = 1,
                  retain: bool = False) -> Sent: ...

    def wait_many(self, sent: Sequence[tuple[str, paho.MQTTMessageInfo | None]], *,
                  timeout: float) -> list[bool]: ...


class DeviceBrokers:
    """Thread-safe device -> broker name; a device the database does not know is on ``main``."""

    def __init__(self, load: LoadBrokers, *, max_age_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._max_age = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, str] = {}
        self._noted: dict[str, tuple[str, float]] = {}  # kept over reloads for max_age_s
        self._loaded_at: float | None = None

    def note(self, device_id: str, broker: str) -> None:
        """A device registered or moved in this process (its row flushed, maybe not yet
        committed: a reload keeps what was noted for ``max_age_s``)."""
        with self._lock:
            self._known[device_id] = broker
            self._noted[device_id] = (broker, self._clock())

    def unnote(self, device_ids: Collection[str]) -> None:
        """Noted changes rolled back: ask the database again about these devices."""
        with self._lock:
            for device_id in device_ids:
                self._noted.pop(device_id, None)
                self._known.pop(device_id, None)

    def brokers_of(self, device_ids: Collection[str]) -> dict[str, str]:
        """Never raises: while the database fails, the map it last loaded is used."""
        with self._lock:
            now = self._clock()
            if self._loaded_at is None or now - self._loaded_at > self._max_age:
                self._loaded_at = now
                self._noted = {d: n for d, n in self._noted.items()
                               if now - n[1] <= self._max_age}
                self._known = {**self._safe_load(None, self._known),
                               **{d: broker for d, (broker, _) in self._noted.items()}}
            found = {d: self._known[d] for d in device_ids if d in self._known}
            missing = [d for d in device_ids if d not in found]
            if missing:  # registered by another process since the last load
                loaded = self._safe_load(missing, {})
                self._known.update(loaded)
                found.update({d: loaded.get(d, MAIN) for d in missing})
            return found

    def _safe_load(self, device_ids: Collection[str] | None,
                   otherwise: Mapping[str, str]) -> Mapping[str, str]:
        try:
            return self._load(device_ids)
        except Exception:
            log.exception("devices' brokers not loaded: routing by the last known map")
            return otherwise


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    name: str
    state: BridgeState
    connected: bool
    last_error: str


class BrokerRouter:
    """``Publisher`` over one bridge per broker. ``connected``: at least one broker is (an
    emergency goes to the devices it can reach, the others are reported undelivered);
    ``wait_connected``: every broker is."""

    def __init__(self, bridges: Mapping[str, MqttBridge], devices: DeviceBrokers) -> None:
        if MAIN not in bridges:
            raise ValueError("the broker 'main' is required")
        self.bridges = dict(bridges)
        self.devices = devices
        self.main = self.bridges[MAIN]

    @property
    def options(self) -> MqttOptions:
        """The main broker's connection options."""
        return self.main.options

    # --- state ---------------------------------------------------------------------------

    def start(self) -> None:
        for bridge in self.bridges.values():
            bridge.start()

    def stop(self) -> None:
        for bridge in self.bridges.values():
            bridge.stop()

    @property
    def connected(self) -> bool:
        return any(b.connected for b in self.bridges.values())

    @property
    def all_connected(self) -> bool:
        return all(b.connected for b in self.bridges.values())

    @property
    def state(self) -> BridgeState:
        """The main broker's state, or the first other broker's that is not connected."""
        if self.main.state != BridgeState.CONNECTED:
            return self.main.state
        return next((b.state for b in self.bridges.values()
                     if b.state != BridgeState.CONNECTED), BridgeState.CONNECTED)

    @property
    def last_error(self) -> str:
        if len(self.bridges) == 1:
            return self.main.last_error
        return "; ".join(f"{name}: {b.last_error}" for name, b in self.bridges.items()
                         if b.last_error)

    def statuses(self) -> list[BrokerStatus]:
        return [BrokerStatus(name, b.state, b.connected, b.last_error)
                for name, b in self.bridges.items()]

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(b.wait_connected(max(0.0, deadline - time.monotonic()))
                   for b in self.bridges.values())

    # --- publishing ------------------------------------------------------------------------

    def bridge_for(self, topic: str) -> MqttBridge:
        if len(self.bridges) == 1:
            return self.main
        device_id = _device_of(topic)
        if device_id is None:
            return self.main
        return self._bridge(self.devices.brokers_of([device_id]).get(device_id, MAIN))

    def publish_and_wait(self, topic: str, payload: bytes, *, qos: int = 1,
                         retain: bool = False, timeout: float = 10.0) -> None:
        self.bridge_for(topic).publish_and_wait(topic, payload, qos=qos, retain=retain,
                                                timeout=timeout)

    def publish_many(self, messages: Sequence[tuple[str, bytes]], *, qos: int = 1,
                     retain: bool = False, timeout: float = 10.0) -> list[bool]:
        return self.wait_many(self.send_many(messages, qos=qos, retain=retain), timeout=timeout)

    def send_many(self, messages: Sequence[tuple[str, bytes]], *, qos: int = 1,
                  retain: bool = False) -> Sent:
        """Each message to its device's broker; results in the order of ``messages``."""
        if len(self.bridges) == 1:
            return self.main.send_many(messages, qos=qos, retain=retain)
        devices = [_device_of(topic) for topic, _ in messages]
        brokers = self.devices.brokers_of({d for d in devices if d is not None})
        groups: dict[str, list[int]] = {}
        for index, device_id in enumerate(devices):
            name = MAIN if device_id is None else brokers.get(device_id, MAIN)
            groups.setdefault(name, []).append(index)
        sent: list[tuple[str, paho.MQTTMessageInfo | None]] = [("", None)] * len(messages)
        for name, indexes in groups.items():
            results = self._bridge(name).send_many([messages[i] for i in indexes], qos=qos,
                                                   retain=retain)
            for index, result in zip(indexes, results, strict=True):
                sent[index] = result
        return sent

    def wait_many(self, sent: Sequence[tuple[str, paho.MQTTMessageInfo | None]], *,
                  timeout: float) -> list[bool]:
        """Waiting on a message needs only its paho handle, whichever broker it went to."""
        return self.main.wait_many(sent, timeout=timeout)

    def _bridge(self, name: str) -> MqttBridge:
        bridge = self.bridges.get(name)
        if bridge is None:  # a name removed from the configuration: say so, use main
            log.error("broker %r is not configured (TT_BROKERS_FILE); publishing on main", name)
            return self.main
        return bridge


class AccountsRouter:
    """``BrokerAccounts`` over one accounts client per broker, by the device's broker."""

    def __init__(self, accounts: Mapping[str, BrokerAccounts], devices: DeviceBrokers) -> None:
        self.by_broker = dict(accounts)
        self.devices = devices
        self.managed = all(a.managed for a in self.by_broker.values())

    def on(self, broker: str) -> BrokerAccounts:
        """The accounts of one broker (KeyError when it is not configured)."""
        return self.by_broker[broker]

    def _of(self, device_id: str) -> BrokerAccounts:
        if len(self.by_broker) == 1:
            return next(iter(self.by_broker.values()))
        name = self.devices.brokers_of([device_id]).get(device_id, MAIN)
        accounts = self.by_broker.get(name)
        if accounts is None:
            raise BrokerUnavailable(f"device {device_id!r} is on broker {name!r}, which is not "
                                    "configured (TT_BROKERS_FILE): add it back, or assign its "
                                    "unit another broker and enrol the device again")
        return accounts

    def create(self, device_id: str, password: str) -> None:
        self._of(device_id).create(device_id, password)

    def set_password(self, device_id: str, password: str) -> None:
        self._of(device_id).set_password(device_id, password)

    def disable(self, device_id: str) -> None:
        self._of(device_id).disable(device_id)

    def enable(self, device_id: str) -> None:
        self._of(device_id).enable(device_id)

    def delete(self, device_id: str) -> None:
        self._of(device_id).delete(device_id)


def connect_brokers(
    registry: BrokerRegistry, *, devices: DeviceBrokers, client_id: str,
    session_expiry_s: int, subscriptions: Sequence[str], on_message: MessageHandler,
    on_connected: Callable[[str, bool], None] | None = None,
    on_messages: BatchHandler | None = None,
) -> BrokerRouter:
    """One bridge per broker (not started): client id ``client_id`` on ``main``,
    ``<client_id>-<name>`` on the others; every bridge feeds ``on_message``, and
    ``on_connected`` is called with the broker's name and CONNACK's session-present flag."""
    bridges = {broker.name: MqttBridge(
        options=bridge_options(broker, client_id=client_id, session_expiry_s=session_expiry_s),
        subscriptions=subscriptions, on_message=on_message, on_messages=on_messages,
        on_connected=_hook(on_connected, broker.name)) for broker in registry}
    return BrokerRouter(bridges, devices)


def bridge_options(broker: BrokerConfig, *, client_id: str, session_expiry_s: int) -> MqttOptions:
    return MqttOptions(host=broker.host, port=broker.port, username=broker.username,
                       password=broker.password, client_id=client_id_on(broker.name, client_id),
                       session_expiry_s=session_expiry_s)


def client_id_on(broker: str, client_id: str) -> str:
    """The center's client id on ``broker`` (unchanged on ``main``)."""
    return client_id if broker == MAIN else f"{client_id}-{broker}"


def _hook(on_connected: Callable[[str, bool], None] | None, name: str) -> ConnectedHook | None:
    if on_connected is None:
        return None
    return lambda session_present: on_connected(name, session_present)


def _device_of(topic: str) -> str | None:
    try:
        return parse_topic(topic).device_id
    except TopicError:
        return None
