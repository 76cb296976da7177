"""Send commands to a running broker's dynamic-security plugin and wait for its answer.

One short MQTT connection per call (the harness changes users rarely): connect as the
center, subscribe to the response topic, publish ``{"commands": [...]}``, wait for the
response. The center itself uses ``control_center.broker.dynsec`` (one long-lived connection
that batches); this is the test harness's plain version.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"


class DynsecCommandError(RuntimeError):
    """The plugin did not answer in time, or the connection to it failed."""


def run_commands(host: str, port: int, username: str, password: str,
                 commands: Sequence[dict[str, Any]], *, timeout: float = 10.0
                 ) -> list[dict[str, Any]]:
    """The plugin's responses to ``commands``, in order (each may hold an ``"error"``)."""
    done = threading.Event()
    subscribed = threading.Event()
    state: dict[str, Any] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2,
                         client_id=f"{username}-harness-{secrets.token_hex(3)}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(username, password)

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: ReasonCode,
                   _p: object) -> None:
        if reason.is_failure:
            state["error"] = f"CONNACK {reason} ({reason.value})"
            done.set()
        else:
            c.subscribe(RESPONSE_TOPIC, qos=1)

    def on_subscribe(_c: object, _u: object, _mid: int, _codes: object, _p: object) -> None:
        subscribed.set()

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        state["responses"] = json.loads(message.payload)["responses"]
        done.set()

    closed = threading.Event()
    client.on_connect, client.on_subscribe = on_connect, on_subscribe
    client.on_message = on_message
    client.on_disconnect = lambda *_args: closed.set()
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise DynsecCommandError(f"cannot reach the broker at {host}:{port}: {exc}") from exc
    client.loop_start()
    try:
        if not subscribed.wait(timeout) and "error" not in state:
            raise DynsecCommandError(f"no SUBACK from {host}:{port} within {timeout:.0f}s")
        if "error" not in state:
            # QoS 0: the answer is the acknowledgement, and QoS 1's PUBACK would hold it back
            # ~40 ms (Nagle's algorithm against a delayed ACK).
            client.publish(CONTROL_TOPIC, json.dumps({"commands": list(commands)}), qos=0)
            if not done.wait(timeout):
                raise DynsecCommandError(f"no answer from the plugin within {timeout:.0f}s")
    finally:
        if client.is_connected():
            client.disconnect()
            closed.wait(timeout)  # the loop closes the socket once DISCONNECT is written
        client.loop_stop()
    if "error" in state:
        raise DynsecCommandError(f"{username!r} could not log in: {state['error']}")
    responses: list[dict[str, Any]] = state["responses"]
    return responses
