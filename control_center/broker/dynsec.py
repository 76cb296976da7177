"""Device accounts on Mosquitto's dynamic-security plugin, changed live over its control topic.

One paho connection of its own (client id ``<center client id>-accounts``, clean session) to
the center's listener, subscribed to the plugin's response topic. Callers on any thread queue
commands; one sender thread puts everything queued into one message (at most ``max_batch``
commands), sends it when the previous message was answered, and hands each caller its own
response, matched by ``correlationData``. The plugin rewrites its whole JSON file after every
command (Mosquitto 2.0), so the broker is busy for the length of a message: ``max_batch``
bounds that, and revocations (disable, delete) go ahead of the queue, in messages of their own.

Each device is one plugin client with no roles: user name = client id = device id (the plugin
refuses a login with another client id). The ACL file decides every publish and subscribe;
for that, the plugin's default ACL access must be "deny" everywhere (with "allow" it would
answer before the ACL file), which is set again on every connect. broker_config/README.md
has the measurements behind these choices.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from control_center.broker.accounts import BrokerRefused, BrokerUnavailable
from protocol.session import BAD_CREDENTIALS

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
ALREADY_EXISTS = "Client already exists"
NOT_FOUND = "Client not found"
LIST_PAGE = 1000  # clients per listClients answer
DENY_BY_DEFAULT: dict[str, Any] = {"command": "setDefaultACLAccess", "acls": [
    {"acltype": kind, "allow": False}
    for kind in ("publishClientSend", "publishClientReceive", "subscribe", "unsubscribe")]}

Command = dict[str, Any]
Response = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DynsecOptions:
    host: str
    port: int
    username: str
    password: str | None
    client_id: str
    timeout_s: float = 10.0  # a caller's whole wait: queue, connection and answer
    # Commands per message. The broker does nothing else while it runs a message, ~27 ms per
    # command with 10,000 accounts (it saves its file after each): 20 keeps a revocation queued
    # behind a message under 1 s, and costs nothing in throughput (bench/broker_accounts.py).
    max_batch: int = 20
    keepalive_s: int = 30
    reconnect_min_s: int = 1
    reconnect_max_s: int = 5


@dataclass(eq=False, slots=True)
class _Call:
    """One command and the caller waiting for its response."""

    command: Command
    done: threading.Event = field(default_factory=threading.Event)
    response: Response | None = None
    failure: str = ""
    abandoned: bool = False

    def finish(self, response: Response | None = None, failure: str = "") -> None:
        self.response, self.failure = response, failure
        self.done.set()


class DynsecAccounts:
    """``BrokerAccounts`` on the dynamic-security plugin; ``start``/``stop`` with the center."""

    managed = True

    def __init__(self, options: DynsecOptions, *,
                 on_connected: Callable[[], None] | None = None) -> None:
        self.options = options
        self._on_connected = on_connected
        self._cond = threading.Condition()
        self._urgent: deque[_Call] = deque()
        self._queue: deque[_Call] = deque()
        self._inflight: dict[str, _Call] = {}
        self._ready = False
        self._stopping = False
        self._auth_failed = False
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(3)
        self.counters: Counter[str] = Counter()
        self._sender: threading.Thread | None = None
        self._client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                   client_id=options.client_id, protocol=paho.MQTTv5)
        self._client.username_pw_set(options.username, options.password)
        self._client.reconnect_delay_set(options.reconnect_min_s, options.reconnect_max_s)
        self._client.on_connect = self._handle_connect
        self._client.on_subscribe = self._handle_subscribe
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (never blocks; the loop retries until the broker answers)."""
        self._client.connect_async(self.options.host, self.options.port,
                                   keepalive=self.options.keepalive_s, clean_start=True)
        self._client.loop_start()
        self._sender = threading.Thread(target=self._send_loop, name="broker-accounts",
                                        daemon=True)
        self._sender.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping, self._ready = True, False
            self._fail_all("the center is stopping")
            self._cond.notify_all()
        self._client.disconnect()
        self._client.loop_stop()
        if self._sender is not None:
            self._sender.join(timeout=self.options.timeout_s)

    @property
    def connected(self) -> bool:
        """Connected and subscribed to the plugin's answers."""
        return self._ready

    # --- BrokerAccounts -------------------------------------------------------------------

    def create(self, device_id: str, password: str) -> None:
        self._guard(device_id)
        created = self._run([{"command": "createClient", "username": device_id,
                              "password": password, "clientid": device_id}],
                            allowed=(ALREADY_EXISTS,))
        if created[0].get("error") == ALREADY_EXISTS:
            self._run([{"command": "setClientId", "username": device_id, "clientid": device_id},
                       {"command": "setClientPassword", "username": device_id,
                        "password": password},
                       {"command": "enableClient", "username": device_id}])

    def set_password(self, device_id: str, password: str) -> None:
        """Mosquitto 2.0.11 also disconnects the device's current session (it logs in again)."""
        self._guard(device_id)
        self._run([{"command": "setClientPassword", "username": device_id,
                    "password": password}])

    def disable(self, device_id: str) -> None:
        """Refused from now on, disconnected at once; a device without an account has none
        to disable."""
        self._guard(device_id)
        self._run([{"command": "disableClient", "username": device_id}], allowed=(NOT_FOUND,),
                  urgent=True)

    def enable(self, device_id: str) -> None:
        self._guard(device_id)
        self._run([{"command": "enableClient", "username": device_id}])

    def delete(self, device_id: str) -> None:
        self._guard(device_id)
        self._run([{"command": "deleteClient", "username": device_id}], allowed=(NOT_FOUND,),
                  urgent=True)

    def list_clients(self) -> dict[str, bool]:
        """Every account on the broker: user name -> enabled (read page by page)."""
        found: dict[str, bool] = {}
        for offset in itertools.count(0, LIST_PAGE):
            data = self._run([{"command": "listClients", "verbose": True, "count": LIST_PAGE,
                               "offset": offset}])[0].get("data") or {}
            page = data.get("clients") or []
            for client in page:
                found[str(client["username"])] = not client.get("disabled", False)
            if len(page) < LIST_PAGE or len(found) >= int(data.get("totalCount", 0)):
                return found
        raise AssertionError("unreachable")  # pragma: no cover

    # --- calls ----------------------------------------------------------------------------

    def _guard(self, device_id: str) -> None:
        if device_id == self.options.username:
            raise BrokerRefused(f"{device_id!r} is the center's own broker account")

    def _run(self, commands: list[Command], *, allowed: tuple[str, ...] = (),
             urgent: bool = False) -> list[Response]:
        """Queue ``commands`` together (they stay in order) and wait for every response."""
        deadline = time.monotonic() + self.options.timeout_s
        calls = [_Call({**c, "correlationData": f"{self._prefix}-{next(self._ids)}"})
                 for c in commands]
        with self._cond:
            if self._auth_failed:
                raise BrokerUnavailable("the broker refused the center's credentials "
                                        "(TT_MQTT_USERNAME / TT_MQTT_PASSWORD)")
            (self._urgent if urgent else self._queue).extend(calls)
            self._cond.notify_all()
        for call in calls:
            if not call.done.wait(max(0.0, deadline - time.monotonic())):
                self._abandon(calls)
                raise BrokerUnavailable(
                    f"the broker did not confirm {call.command['command']} for "
                    f"{call.command.get('username', '')!r} within {self.options.timeout_s:g}s "
                    f"({'connected' if self._ready else 'not connected'})")
            if call.failure:
                self._abandon(calls)
                raise BrokerUnavailable(f"{call.command['command']}: {call.failure}")
        responses = [c.response or {} for c in calls]
        refused = [r for r in responses if r.get("error") and r["error"] not in allowed]
        if refused:
            with self._cond:
                self.counters["refused"] += 1
            raise BrokerRefused("; ".join(f"{r.get('command')}: {r['error']}" for r in refused))
        return responses

    def _abandon(self, calls: list[_Call]) -> None:
        with self._cond:
            self.counters["unavailable"] += 1
            for call in calls:
                call.abandoned = True

    def _fail_all(self, why: str) -> None:
        """Fail everything queued and in flight (the lock is held)."""
        for call in [*self._inflight.values(), *self._urgent, *self._queue]:
            call.finish(failure=why)
        self._inflight.clear()
        self._urgent.clear()
        self._queue.clear()

    def _take_batch(self) -> list[_Call]:
        """Revocations alone in their message (answered after their own saves only), else
        the oldest queued commands."""
        source = self._urgent if self._urgent else self._queue
        batch: list[_Call] = []
        while source and len(batch) < self.options.max_batch:
            call = source.popleft()
            if not call.abandoned:
                batch.append(call)
        return batch

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not (
                        self._ready and not self._inflight and (self._urgent or self._queue)):
                    self._cond.wait()
                if self._stopping:
                    return
                batch = self._take_batch()
                if not batch:
                    continue
                for call in batch:
                    self._inflight[call.command["correlationData"]] = call
            self._send(batch)

    def _send(self, batch: list[_Call]) -> None:
        payload = json.dumps({"commands": [c.command for c in batch]})
        # QoS 0: the plugin's answer is the acknowledgement (a lost connection fails the batch
        # as unconfirmed). With QoS 1 the broker writes PUBACK and then the answer as two small
        # packets, and Nagle's algorithm holds the second until our delayed ACK: 45 ms per
        # message instead of 0.6 ms (measured on 2.0.11, loopback).
        info = self._client.publish(CONTROL_TOPIC, payload, qos=0)
        with self._cond:
            self.counters["messages"] += 1
            self.counters["commands"] += len(batch)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                for call in batch:
                    if self._inflight.pop(call.command["correlationData"], None) is not None:
                        call.finish(failure=f"not sent ({paho.error_string(info.rc)})")
                return
            deadline = time.monotonic() + self.options.timeout_s
            while self._inflight and not self._stopping and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            for call in self._inflight.values():
                call.finish(failure=f"no answer within {self.options.timeout_s:g}s")
            self._inflight.clear()

    # --- paho callbacks (network thread) ---------------------------------------------------

    def _handle_connect(self, client: paho.Client, _userdata: object, _flags: object,
                        reason: ReasonCode, _props: object) -> None:
        if reason.is_failure:
            if reason.value in BAD_CREDENTIALS:
                log.error("broker accounts: the broker refused the center's credentials (%s); "
                          "not retrying", reason)
                with self._cond:
                    self._auth_failed = True
                    self._fail_all(f"the broker refused the center's credentials ({reason})")
                client.disconnect()
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _handle_subscribe(self, _client: paho.Client, _userdata: object, _mid: int,
                          codes: list[ReasonCode], _props: object) -> None:
        if any(code.is_failure for code in codes):
            log.error("broker accounts: subscription to %s refused (%s): grant the center "
                      "$CONTROL/dynamic-security/# in the ACL file", RESPONSE_TOPIC, codes)
            return
        with self._cond:
            # The ACL file must decide: the plugin's defaults are reset to "deny" first.
            self._urgent.appendleft(_Call({**DENY_BY_DEFAULT, "correlationData":
                                           f"{self._prefix}-{next(self._ids)}"}))
            self._ready = True
            self._cond.notify_all()
        log.info("broker accounts: connected to the dynamic-security plugin")
        if self._on_connected is not None:
            self._on_connected()

    def _handle_disconnect(self, _client: paho.Client, _userdata: object, _flags: object,
                           reason: ReasonCode, _props: object) -> None:
        with self._cond:
            was_ready, self._ready = self._ready, False
            for call in self._inflight.values():
                call.finish(failure=f"connection to the broker lost ({reason})")
            self._inflight.clear()
            self._cond.notify_all()
        if was_ready and not self._stopping:
            log.warning("broker accounts: disconnected (%s); reconnecting", reason)

    def _handle_message(self, _client: paho.Client, _userdata: object,
                        message: paho.MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            log.warning("broker accounts: unreadable answer %r", message.payload[:200])
            return
        with self._cond:
            for response in responses:
                call = self._inflight.pop(str(response.get("correlationData")), None)
                if call is None:
                    continue
                if call.command["command"] == DENY_BY_DEFAULT["command"] and "error" in response:
                    log.error("broker accounts: could not set the default ACL access to deny: "
                              "%s", response["error"])
                call.finish(response)
            self._cond.notify_all()
