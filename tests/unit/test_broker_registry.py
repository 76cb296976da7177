"""The brokers file (TT_BROKERS_FILE): parsed into the registry, or refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_center.broker.registry import MAIN, BrokerRegistry, load_registry
from control_center.config import get_settings
from control_center.errors import ConfigError

TWO = """
[[broker]]
name = "north"
host = "10.0.1.5"
port = 1884
password_file = "north.pass"
device_url = "mqtts://north.example.vn:8883"

[[broker]]
name = "south"
host = "10.0.2.5"
username = "centre"
password = "s3cret"
device_url = "mqtt://south.example.vn"
"""


def _registry(tmp_path: Path, text: str | None) -> BrokerRegistry:
    env = {"TT_DATA_DIR": str(tmp_path / "data"), "TT_MQTT_HOST": "10.0.0.1",
           "TT_DEVICE_MQTT_URL": "mqtt://main.example.vn:1883"}
    if text is not None:
        (tmp_path / "brokers.toml").write_text(text)
        env["TT_BROKERS_FILE"] = str(tmp_path / "brokers.toml")
    return load_registry(get_settings(env))


def test_main_alone_without_a_file(tmp_path: Path) -> None:
    registry = load_registry(get_settings({"TT_DATA_DIR": str(tmp_path),
                                           "TT_MQTT_HOST": "10.0.0.1"}))
    assert registry.names == (MAIN,)
    assert registry.get(MAIN).host == "10.0.0.1"
    assert registry.get(MAIN).device_url == "mqtt://10.0.0.1:1883"


def test_every_broker_of_the_file_after_main(tmp_path: Path) -> None:
    (tmp_path / "north.pass").write_text("from-a-file\n")
    registry = _registry(tmp_path, TWO)
    assert registry.names == ("main", "north", "south")
    north, south = registry.get("north"), registry.get("south")
    assert (north.host, north.port, north.username, north.password) == (
        "10.0.1.5", 1884, "center", "from-a-file")
    assert (north.device_host, north.device_port, north.device_tls) == (
        "north.example.vn", 8883, True)
    assert (south.port, south.username, south.password, south.device_port) == (
        1883, "centre", "s3cret", 1883)
    assert registry.check_name("south") == "south"
    with pytest.raises(ValueError, match="known: main, north, south"):
        registry.check_name("east")


@pytest.mark.parametrize(("text", "message"), [
    ("[[broker]]\nname = 'x'\nhost = 'h'\n", "field 'device_url' must be"),
    ("[[broker]]\nname = 'Bad Name'\nhost = 'h'\ndevice_url = 'mqtt://d:1'\n", "field 'name'"),
    ("[[broker]]\nname = 'main'\nhost = 'h'\ndevice_url = 'mqtt://d:1'\n", "already used"),
    ("[[broker]]\nname = 'x'\nhost = 'h'\nport = 0\ndevice_url = 'mqtt://d:1'\n",
     "[[broker]] #1 ('x'): field 'port'"),
    ("[[broker]]\nname = 'x'\nhost = 'h'\ndevice_url = 'http://d:1'\n", "field 'device_url'"),
    ("[[broker]]\nname = 'x'\nhost = 'h'\nhots = 'h'\ndevice_url = 'mqtt://d:1'\n",
     "unknown field(s) ['hots']"),
    ("[[broker]]\nname = 'x'\nhost = 'h'\npassword_file = 'nope'\ndevice_url = 'mqtt://d:1'\n",
     "field 'password_file': cannot read"),
    ("[[broker]\nname = 'x'\n", "not valid TOML"),
    ("[brokers.x]\nhost = 'h'\n", "unknown key(s) ['brokers']"),
])
def test_a_bad_file_names_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _registry(tmp_path, text)
    assert message in str(caught.value)
    assert "TT_BROKERS_FILE=" in str(caught.value)
