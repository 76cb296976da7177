"""The per-device ACL and persistence of broker_config/, checked against a real Mosquitto.

Non-delivery is never proven by waiting: after the forbidden message the same client sends an
allowed "marker" on the same path, and MQTT's per-connection ordering means that once the marker
has arrived, the forbidden message would have arrived before it.
"""

from __future__ import annotations

import pytest

from firmware_sim.broker import MosquittoBroker
from protocol.topics import Channel, device_topic, fleet_subscription
from tests.support.mqtt import NOT_AUTHORIZED, ConnectRefusedError, MqttClients, Protocol

pytestmark = pytest.mark.integration

PASSWORDS = {"loa-a": "pw-loa-a", "loa-b": "pw-loa-b"}
PROTOCOLS: list[Protocol] = ["3.1.1", "5"]
SUCCESS = 0
NO_MATCHING_SUBSCRIBERS = 16  # MQTT 5 PUBACK: accepted (and retained if asked), nobody listening
ACCEPTED = (SUCCESS, NO_MATCHING_SUBSCRIBERS)
GRANTED_QOS_1 = 1


@pytest.fixture
def devices(broker: MosquittoBroker) -> dict[str, str]:
    """Broker users loa-a and loa-b (user name = device id), added through a live reload."""
    for name, password in PASSWORDS.items():
        broker.add_user(name, password)
    return PASSWORDS


def test_device_event_reaches_center(mqtt_clients: MqttClients, devices: dict[str, str]) -> None:
    center = mqtt_clients.center()
    assert center.subscribe(fleet_subscription(Channel.EVENT)) == GRANTED_QOS_1
    device = mqtt_clients.connect("loa-a", devices["loa-a"])
    topic = device_topic("loa-a", Channel.EVENT)

    assert device.publish(topic, b'{"event_id": "e1"}') == SUCCESS

    assert center.wait_for_message(topic).payload == b'{"event_id": "e1"}'


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_device_cannot_publish_as_another_device(
    mqtt_clients: MqttClients, devices: dict[str, str], protocol: Protocol
) -> None:
    center = mqtt_clients.center()
    center.subscribe(fleet_subscription(Channel.EVENT))
    device = mqtt_clients.connect("loa-a", devices["loa-a"], protocol=protocol)
    forbidden = device_topic("loa-b", Channel.EVENT)
    own = device_topic("loa-a", Channel.EVENT)

    ack = device.publish(forbidden, b"forged")
    # MQTT 5 says why; MQTT 3.1.1 has no way to, so the broker acks and drops it silently.
    assert ack == (NOT_AUTHORIZED if protocol == "5" else SUCCESS)
    device.publish(own, b"marker")

    center.wait_for_message(own, b"marker")
    assert center.received_on(forbidden) == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_device_reads_only_its_own_manifest(
    mqtt_clients: MqttClients, devices: dict[str, str], protocol: Protocol
) -> None:
    center = mqtt_clients.center()
    other, own = device_topic("loa-b", Channel.MANIFEST), device_topic("loa-a", Channel.MANIFEST)
    assert center.publish(other, b"manifest-b", retain=True) == NO_MATCHING_SUBSCRIBERS
    assert center.publish(own, b"manifest-a", retain=True) == NO_MATCHING_SUBSCRIBERS
    device = mqtt_clients.connect("loa-a", devices["loa-a"], protocol=protocol)

    # Mosquitto 2.0.11 grants the subscription and checks "read" per delivered message.
    assert device.subscribe(other) == GRANTED_QOS_1
    assert device.subscribe(own) == GRANTED_QOS_1
    retained = device.wait_for_message(own, b"manifest-a")
    assert retained.retain
    assert device.received_on(other) == []

    # Live (non-retained) publishes follow the same rule.
    center.publish(other, b"manifest-b2", retain=True)
    center.publish(own, b"manifest-a2", retain=True)
    device.wait_for_message(own, b"manifest-a2")
    assert device.received_on(other) == []


def test_fleet_wildcard_yields_only_own_manifest(
    mqtt_clients: MqttClients, devices: dict[str, str]
) -> None:
    center = mqtt_clients.center()
    center.publish(device_topic("loa-b", Channel.MANIFEST), b"manifest-b", retain=True)
    center.publish(device_topic("loa-a", Channel.MANIFEST), b"manifest-a", retain=True)
    device = mqtt_clients.connect("loa-a", devices["loa-a"])

    assert device.subscribe(fleet_subscription(Channel.MANIFEST)) == GRANTED_QOS_1
    # Retained messages for one subscription are not sent in a defined order, so wait for the
    # own one and then push a live marker through the same subscription.
    device.wait_for_message(device_topic("loa-a", Channel.MANIFEST), b"manifest-a")
    center.publish(device_topic("loa-a", Channel.MANIFEST), b"marker", retain=True)
    device.wait_for_message(device_topic("loa-a", Channel.MANIFEST), b"marker")

    assert device.received_on(device_topic("loa-b", Channel.MANIFEST)) == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("username", "password"),
    [("loa-a", "wrong"), ("center", "wrong"), ("nobody", "pw-loa-a"), ("loa-a", "")],
)
def test_bad_credentials_are_refused_at_connack(
    mqtt_clients: MqttClients, devices: dict[str, str], protocol: Protocol,
    username: str, password: str,
) -> None:
    with pytest.raises(ConnectRefusedError) as refused:
        mqtt_clients.connect(username, password, protocol=protocol)
    # Mosquitto 2.0.11 answers 3.1.1 with return code 5 (paho maps it to 135) and MQTT 5 with 135
    # "not authorized", never 134 "bad user name or password": clients must stop retrying on both.
    assert refused.value.reason.value == NOT_AUTHORIZED


@pytest.mark.parametrize("channel", [Channel.MANIFEST, Channel.CMD])
def test_device_cannot_write_its_own_inbound_topics(
    mqtt_clients: MqttClients, devices: dict[str, str], channel: Channel
) -> None:
    inbound = device_topic("loa-a", channel)
    marker = device_topic("loa-a", Channel.STATUS)
    center = mqtt_clients.center()
    center.subscribe(inbound)
    center.subscribe(marker)
    device = mqtt_clients.connect("loa-a", devices["loa-a"])
    device.subscribe(inbound)

    assert device.publish(inbound, b"self-signed", retain=True) == NOT_AUTHORIZED
    assert device.publish(marker, b"online") == SUCCESS
    center.wait_for_message(marker, b"online")
    assert center.received_on(inbound) == []

    # Only the center writes there, and the device reads what it wrote.
    assert center.publish(inbound, b"from-center") == SUCCESS
    device.wait_for_message(inbound, b"from-center")
    assert [m.payload for m in device.received_on(inbound)] == [b"from-center"]


def test_retained_manifest_survives_restart(
    broker: MosquittoBroker, mqtt_clients: MqttClients, devices: dict[str, str]
) -> None:
    topic = device_topic("loa-a", Channel.MANIFEST)
    center = mqtt_clients.center()
    assert center.publish(topic, b"manifest-v7", retain=True) in ACCEPTED
    center.close()
    port = broker.port

    broker.restart()

    assert broker.port == port
    device = mqtt_clients.connect("loa-a", devices["loa-a"])
    device.subscribe(topic)
    message = device.wait_for_message(topic)
    assert (message.payload, message.retain) == (b"manifest-v7", True)


def test_queued_event_for_offline_center_survives_restart(
    broker: MosquittoBroker, mqtt_clients: MqttClients, devices: dict[str, str]
) -> None:
    """The center's persistent session keeps device events while it and the broker restart."""
    center = mqtt_clients.center(client_id="center-main", clean=False, session_expiry=3600)
    center.subscribe(fleet_subscription(Channel.EVENT))
    center.close()
    device = mqtt_clients.connect("loa-a", devices["loa-a"])
    topic = device_topic("loa-a", Channel.EVENT)
    assert device.publish(topic, b'{"event_id": "e2"}') == SUCCESS
    device.close()

    broker.restart()

    center = mqtt_clients.center(client_id="center-main", clean=False, session_expiry=3600)
    assert center.wait_for_message(topic).payload == b'{"event_id": "e2"}'


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_device_cannot_take_another_devices_client_id(
    mqtt_clients: MqttClients, devices: dict[str, str], protocol: Protocol
) -> None:
    """The plugin binds each device's account to its own client id: loa-b's credentials with
    loa-a's client id are refused at CONNACK, and loa-a is not kicked off the broker."""
    center = mqtt_clients.center()
    center.subscribe(fleet_subscription(Channel.STATUS))
    victim = mqtt_clients.connect("loa-a", devices["loa-a"], protocol=protocol, client_id="loa-a")
    with pytest.raises(ConnectRefusedError) as refused:
        mqtt_clients.connect("loa-b", devices["loa-b"], protocol=protocol, client_id="loa-a")
    assert refused.value.reason.value == NOT_AUTHORIZED
    own = device_topic("loa-a", Channel.STATUS)
    assert victim.publish(own, b"loa-a") == SUCCESS  # a round trip on the victim's session
    center.wait_for_message(own, b"loa-a")
    assert victim.disconnects == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_accounts_are_broker_wide_and_the_center_keeps_free_client_ids(
    broker: MosquittoBroker, mqtt_clients: MqttClients, devices: dict[str, str],
    protocol: Protocol,
) -> None:
    """per_listener_settings false (the plugin must answer the center on its own listener):
    every account logs in on both listeners, and only the address keeps the center's listener
    private. The center, unlike a device, may hold several connections with ids of its own."""
    on_device_port = mqtt_clients.connect("center", broker.center_password, protocol=protocol)
    on_center_port = mqtt_clients.connect("loa-a", devices["loa-a"], protocol=protocol,
                                          port=broker.center_port)
    second = mqtt_clients.center(protocol=protocol)
    assert on_device_port.client_id != second.client_id
    assert second.publish(device_topic("loa-a", Channel.MANIFEST), b"m", retain=True) in ACCEPTED
    assert on_center_port.publish(device_topic("loa-a", Channel.STATUS), b"up") in ACCEPTED
    assert on_device_port.disconnects == 0
