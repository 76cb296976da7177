"""A real Mosquitto broker run as a child process, for development, the demo and tests.

The broker is configured from ``broker_config/mosquitto.dev.conf`` and ``broker_config/acl``:
two listeners (``port`` for devices, ``center_port`` for the center), users in the
dynamic-security plugin (a device's client id must be its user name), the per-device ``%u``
ACL and on-disk persistence in ``data_dir``. The user ``center`` is created at start; devices
are added with :meth:`MosquittoBroker.add_user` (through the plugin's control topic while the
broker runs, in its JSON file before).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import secrets
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from firmware_sim.dynsec_control import DynsecCommandError, run_commands
from firmware_sim.dynsec_file import DynsecFile
from firmware_sim.local_server import LocalServer, free_port  # free_port: also imported from here

logger = logging.getLogger(__name__)

BROKER_CONFIG_DIR = Path(__file__).resolve().parent.parent / "broker_config"
DEV_CONF_TEMPLATE = BROKER_CONFIG_DIR / "mosquitto.dev.conf"
DEFAULT_ACL_FILE = BROKER_CONFIG_DIR / "acl"
CENTER_USER = "center"
INSTALL_HINT = "run ./run.sh test (installs it) or apt-get install mosquitto"
DYNSEC_PLUGIN_GLOBS = ("/usr/lib/*/mosquitto_dynamic_security.so",
                       "/usr/lib/mosquitto_dynamic_security.so",
                       "/usr/local/lib/mosquitto_dynamic_security.so")
_ALREADY_EXISTS = "Client already exists"
_NOT_FOUND = "Client not found"

_POLL_INTERVAL = 0.02  # seconds between readiness probes; bounded by a deadline everywhere
_CONNACK_ACCEPTED = 0
_CONNACK_NOT_AUTHORIZED = (4, 5)  # bad user name or password, not authorised


class BrokerError(RuntimeError):
    """The broker could not be started, stopped or configured."""


class MosquittoNotInstalledError(BrokerError):
    """The mosquitto executable or its dynamic-security plugin is missing."""


def find_executable(name: str) -> str:
    """Return the path of a Mosquitto executable, or raise with the install step."""
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.is_file()), None
    )
    if found is None:
        raise MosquittoNotInstalledError(f"{name} not found: {INSTALL_HINT}")
    return found


def find_dynsec_plugin() -> str:
    """Return the path of Mosquitto's dynamic-security plugin, or raise with the install step."""
    for pattern in DYNSEC_PLUGIN_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise MosquittoNotInstalledError(f"mosquitto_dynamic_security.so not found: {INSTALL_HINT}")


def _mqtt_string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def probe_login(host: str, port: int, username: str, password: str, timeout: float = 2.0,
                *, client_id: str | None = None) -> int:
    """Send one MQTT 3.1.1 CONNECT and return the CONNACK return code (0 means accepted).

    ``client_id``: a device's must be its user name (the default); the center's is free."""
    client_id = client_id or (username if username != CENTER_USER
                              else f"tt-probe-{secrets.token_hex(4)}")
    variable = _mqtt_string("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 10)
    payload = _mqtt_string(client_id) + _mqtt_string(username) + _mqtt_string(password)
    body = variable + payload
    packet = b"\x10" + _remaining_length(len(body)) + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(packet)
        connack = b""
        while len(connack) < 4:
            chunk = sock.recv(4 - len(connack))
            if not chunk:
                raise BrokerError(f"broker closed the connection before CONNACK ({username!r})")
            connack += chunk
        if connack[0] != 0x20:
            raise BrokerError(f"unexpected reply to CONNECT: {connack!r}")
        if connack[3] == _CONNACK_ACCEPTED:
            with contextlib.suppress(OSError):
                sock.sendall(b"\xe0\x00")  # DISCONNECT, so no will and a clean log line
        return connack[3]


class MosquittoBroker(LocalServer):
    """One ``mosquitto`` process on 127.0.0.1 with its config, users and database in ``data_dir``.

    ``restart()`` keeps the port and the data directory, so retained messages and persistent
    sessions are reloaded from ``mosquitto.db`` (saved on SIGTERM) exactly as after a real
    broker restart.
    """

    name = "mosquitto"
    error = BrokerError
    output_file = "mosquitto.stderr"
    poll_interval = _POLL_INTERVAL

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        center_port: int | None = None,
        center_password: str | None = None,
        acl_file: Path = DEFAULT_ACL_FILE,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
        extra_hosts: Sequence[str] = (),
    ) -> None:
        """``extra_hosts``: more local addresses (e.g. the host side of a test's veth pair)
        where the devices' listener also listens, on the same port and with the same users."""
        super().__init__(data_dir, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._extra_hosts = tuple(extra_hosts)
        self._port: int | None = port
        self._center_port: int | None = center_port
        self._asked_ports = (port, center_port)
        self._center_password = center_password or secrets.token_urlsafe(16)
        self._acl_file = Path(acl_file).resolve()

    # --- properties ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise BrokerError("the broker has no port yet: call start() first")
        return self._port

    @property
    def center_port(self) -> int:
        """The center's listener (only the user ``center`` logs in there)."""
        if self._center_port is None:
            raise BrokerError("the broker has no port yet: call start() first")
        return self._center_port

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._data_dir / "mosquitto.log"

    @property
    def dynsec_file(self) -> Path:
        """The dynamic-security plugin's users (rewritten by the plugin on every change)."""
        return self._data_dir / "dynamic-security.json"

    @property
    def config_path(self) -> Path:
        return self._data_dir / "mosquitto.conf"

    @property
    def center_username(self) -> str:
        return CENTER_USER

    @property
    def center_password(self) -> str:
        return self._center_password

    # --- lifecycle ----------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Create a broker user, or give an existing one this password and enable it (a
        device's client id is bound to its name; ``center``'s is free). If running, through
        the plugin, returning once the broker confirmed it and the login works."""
        self.add_users([(name, password)])

    def add_users(self, users: Iterable[tuple[str, str]]) -> None:
        """:meth:`add_user` for many users, in one message to the plugin when running."""
        pairs = list(users)
        if not self.running:
            file = DynsecFile(self.dynsec_file)
            for name, password in pairs:
                file.put_client(name, password, client_id=_bound_client_id(name))
            file.save()
        else:
            responses = self._control([_create(name, password) for name, password in pairs])
            existing = [pair for pair, response in zip(pairs, responses, strict=True)
                        if response.get("error") == _ALREADY_EXISTS]
            _raise_errors(responses, allowed=(_ALREADY_EXISTS,))
            if existing:
                _raise_errors(self._control([c for name, password in existing
                                             for c in _update(name, password)]))
            for name, password in pairs[-1:]:  # the plugin applies commands in order
                self._wait_until_login_works(name, password)
        for name, password in pairs:
            if name == CENTER_USER:
                self._center_password = password

    def disable_user(self, name: str) -> None:
        """Refuse the user's logins from now on; a running broker disconnects it at once."""
        self._set_disabled(name, True)

    def enable_user(self, name: str) -> None:
        self._set_disabled(name, False)

    def remove_user(self, name: str) -> None:
        """Delete the user (and disconnect it); an unknown user is already gone."""
        if not self.running:
            file = DynsecFile(self.dynsec_file)
            file.remove(name)
            file.save()
            return
        _raise_errors(self._control([{"command": "deleteClient", "username": name}]),
                      allowed=(_NOT_FOUND,))

    def users(self) -> dict[str, bool]:
        """Every user name -> enabled, as the plugin's file holds them."""
        return DynsecFile(self.dynsec_file).clients()

    # --- internals ----------------------------------------------------------------------

    def _set_disabled(self, name: str, disabled: bool) -> None:
        if not self.running:
            file = DynsecFile(self.dynsec_file)
            try:
                file.set_disabled(name, disabled)
            except KeyError:
                raise BrokerError(f"no broker user {name!r}") from None
            file.save()
            return
        command = "disableClient" if disabled else "enableClient"
        _raise_errors(self._control([{"command": command, "username": name}]))

    def _control(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The plugin's responses to ``commands``, sent as the user ``center``."""
        try:
            return run_commands(self.host, self.center_port, CENTER_USER, self._center_password,
                                commands, timeout=self._start_timeout)
        except DynsecCommandError as exc:
            raise BrokerError(f"{exc}\n{self._log_tail()}") from exc

    def _prepare(self) -> None:
        self._mosquitto = find_executable("mosquitto")
        self._plugin = find_dynsec_plugin()
        super()._prepare()
        file = DynsecFile(self.dynsec_file)  # kept across restarts: the plugin saved every change
        file.put_client(CENTER_USER, self._center_password, client_id=None)
        file.save()

    def _ports_fixed(self) -> bool:
        return self._port is not None and self._center_port is not None

    def _pick_ports(self) -> None:
        asked, asked_center = self._asked_ports
        self._port = asked or free_port()
        self._center_port = asked_center or free_port()

    def _render_config(self) -> None:
        text = DEV_CONF_TEMPLATE.read_text(encoding="utf-8")
        for key, value in {
            "{{PORT}}": str(self.port),
            "{{CENTER_PORT}}": str(self.center_port),
            "{{DATA_DIR}}": str(self._data_dir),
            "{{DYNSEC_PLUGIN}}": self._plugin,
            "{{DYNSEC_FILE}}": str(self.dynsec_file),
            "{{ACL_FILE}}": str(self._acl_file),
            "{{LOG_FILE}}": str(self.log_path),
        }.items():
            text = text.replace(key, value)
        for host in self._extra_hosts:  # listener blocks go last: only their settings follow
            text += f"\n# devices' listener on an extra address\nlistener {self.port} {host}\n"
        self.config_path.write_text(text, encoding="utf-8")

    def _launch(self) -> subprocess.Popen[bytes]:
        self._render_config()
        return self._spawn([self._mosquitto, "-c", str(self.config_path)])

    def _ready(self) -> bool:
        """The port accepts TCP connections."""
        with contextlib.suppress(OSError), socket.create_connection(
            (self.host, self.port), timeout=0.5
        ):
            return True
        return False

    def _wait_until_login_works(self, name: str, password: str) -> None:
        # The plugin applies a change before it answers; a login proves the whole path.
        deadline = time.monotonic() + self._start_timeout
        code = -1
        while time.monotonic() < deadline:
            if not self.running:
                raise BrokerError(f"mosquitto exited:\n{self._log_tail()}")
            port = self.center_port if name == CENTER_USER else self.port
            code = probe_login(self.host, port, name, password)
            if code == _CONNACK_ACCEPTED:
                return
            if code not in _CONNACK_NOT_AUTHORIZED:
                break
            time.sleep(_POLL_INTERVAL)
        raise BrokerError(f"user {name!r} still cannot log in (CONNACK {code}):\n"
                          f"{self._log_tail()}")

    def _log_paths(self) -> Sequence[Path]:
        return (*super()._log_paths(), self.log_path)


def _bound_client_id(name: str) -> str | None:
    """A device may only connect with its own id as client id; the center with any."""
    return None if name == CENTER_USER else name


def _create(name: str, password: str) -> dict[str, Any]:
    command = {"command": "createClient", "username": name, "password": password}
    client_id = _bound_client_id(name)
    if client_id is not None:
        command["clientid"] = client_id
    return command


def _update(name: str, password: str) -> list[dict[str, Any]]:
    """What makes an existing client as :func:`_create` would have made it."""
    commands: list[dict[str, Any]] = [
        {"command": "setClientPassword", "username": name, "password": password},
        {"command": "enableClient", "username": name}]
    client_id = _bound_client_id(name)
    if client_id is not None:
        commands.append({"command": "setClientId", "username": name, "clientid": client_id})
    return commands


def _raise_errors(responses: list[dict[str, Any]], allowed: Sequence[str] = ()) -> None:
    failed = [r for r in responses if r.get("error") and r["error"] not in allowed]
    if failed:
        raise BrokerError("the dynamic-security plugin refused: " + "; ".join(
            f"{r.get('command')}: {r['error']}" for r in failed))
