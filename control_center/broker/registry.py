"""The brokers the center connects to: configuration, not data (docs/devices.md, "Several
brokers").

The TT_MQTT_* settings describe the default broker, named ``main``. More brokers come from the
TOML file named by TT_BROKERS_FILE, one ``[[broker]]`` table each::

    [[broker]]
    name = "north"                        # letters, digits, "-" and "_"; not "main"
    host = "10.0.1.5"                     # the center's listener on that broker
    port = 1884
    username = "center"                   # default "center"
    password_file = "/etc/tt/north.pass"  # or: password = "..."
    device_url = "mqtt://north.example.vn:1883"  # what devices of this broker connect to

A bad file is a ``ConfigError`` naming the table and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from control_center.config import Settings, checked_device_url
from control_center.errors import ConfigError

MAIN = "main"
"""The default broker: TT_MQTT_HOST, TT_MQTT_PORT, ... and TT_DEVICE_MQTT_URL."""
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
FIELDS = frozenset({"name", "host", "port", "username", "password", "password_file",
                    "device_url"})


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """One broker: where the center logs in, and the URL its devices are given."""

    name: str
    host: str
    port: int
    username: str
    password: str | None
    device_url: str

    @property
    def device_host(self) -> str:
        return urlsplit(self.device_url).hostname or ""

    @property
    def device_tls(self) -> bool:
        return urlsplit(self.device_url).scheme == "mqtts"

    @property
    def device_port(self) -> int:
        return urlsplit(self.device_url).port or (8883 if self.device_tls else 1883)


@dataclass(frozen=True, slots=True)
class BrokerRegistry:
    """Every broker by name, ``main`` first."""

    brokers: tuple[BrokerConfig, ...]

    def __iter__(self) -> Iterator[BrokerConfig]:
        return iter(self.brokers)

    def __len__(self) -> int:
        return len(self.brokers)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.brokers)

    def get(self, name: str) -> BrokerConfig:
        for broker in self.brokers:
            if broker.name == name:
                return broker
        raise KeyError(name)

    def check_name(self, name: str) -> str:
        """``name`` if a broker has it, else ValueError listing the known names."""
        if name not in self.names:
            raise ValueError(f"unknown broker {name!r}; known: {', '.join(self.names)}")
        return name


def load_registry(settings: Settings) -> BrokerRegistry:
    """``main`` from the settings, then the brokers of TT_BROKERS_FILE (if set)."""
    main = BrokerConfig(name=MAIN, host=settings.mqtt_host, port=settings.mqtt_port,
                        username=settings.mqtt_username, password=settings.mqtt_password,
                        device_url=settings.device_mqtt_url)
    if settings.brokers_file is None:
        return BrokerRegistry((main,))
    return BrokerRegistry((main, *read_brokers_file(settings.brokers_file)))


def read_brokers_file(path: Path) -> tuple[BrokerConfig, ...]:
    where = f"TT_BROKERS_FILE={str(path)!r}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    extra = sorted(set(data) - {"broker"})
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {extra}; write one [[broker]] table per "
                          "broker")
    tables = data.get("broker", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{where}: 'broker' must be tables written [[broker]]")
    brokers: list[BrokerConfig] = []
    for number, table in enumerate(tables, start=1):
        broker = _broker(table, f"{where}, [[broker]] #{number}", path.parent)
        if broker.name in {MAIN, *(b.name for b in brokers)}:
            raise ConfigError(f"{where}, [[broker]] #{number}: the name {broker.name!r} is "
                              "already used (\"main\" is the TT_MQTT_* broker)")
        brokers.append(broker)
    return tuple(brokers)


def _broker(table: Mapping[str, object], where: str, base: Path) -> BrokerConfig:
    unknown = sorted(set(table) - FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(FIELDS)}")
    name = _text(table, "name", where)
    if not NAME_RE.fullmatch(name):
        raise ConfigError(f"{where}: field 'name' = {name!r}: use 1-32 lower-case letters, "
                          "digits, '-' or '_'")
    where = f"{where} ({name!r})"
    port = table.get("port", 1883)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError(f"{where}: field 'port' must be an integer from 1 to 65535")
    if "password" in table and "password_file" in table:
        raise ConfigError(f"{where}: give 'password' or 'password_file', not both")
    password: str | None = None
    if "password" in table:
        password = _text(table, "password", where)
    elif "password_file" in table:
        secret = base / _text(table, "password_file", where)
        try:
            password = secret.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"{where}: field 'password_file': cannot read {str(secret)!r} "
                              f"({exc.strerror or exc})") from exc
    return BrokerConfig(name=name, host=_text(table, "host", where), port=port,
                        username=_text(table, "username", where, default="center"),
                        password=password, device_url=_device_url(table, where))


def _text(table: Mapping[str, object], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: field {key!r} must be a non-empty string")
    return value.strip()


def _device_url(table: Mapping[str, object], where: str) -> str:
    return checked_device_url(_text(table, "device_url", where),
                              setting=f"{where}: field 'device_url'",
                              who="this broker's devices")
