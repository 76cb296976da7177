"""A real Mosquitto broker run as a child process, for development, the demo and tests.

The broker is configured from ``broker_config/mosquitto.dev.conf`` and ``broker_config/acl``:
two listeners (``port`` for devices, client id = user name; ``center_port`` for the center
only), password authentication, the per-device ``%u`` ACL and on-disk persistence in
``data_dir``. The user ``center`` is created at start; devices are added with
:meth:`MosquittoBroker.add_user`.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from firmware_sim.local_server import LocalServer, free_port  # free_port: also imported from here

logger = logging.getLogger(__name__)

BROKER_CONFIG_DIR = Path(__file__).resolve().parent.parent / "broker_config"
DEV_CONF_TEMPLATE = BROKER_CONFIG_DIR / "mosquitto.dev.conf"
DEFAULT_ACL_FILE = BROKER_CONFIG_DIR / "acl"
CENTER_USER = "center"
INSTALL_HINT = "run ./run.sh test (installs it) or apt-get install mosquitto"

_POLL_INTERVAL = 0.02  # seconds between readiness probes; bounded by a deadline everywhere
_CONNACK_ACCEPTED = 0
_CONNACK_NOT_AUTHORIZED = (4, 5)  # bad user name or password, not authorised


class BrokerError(RuntimeError):
    """The broker could not be started, stopped or configured."""


class MosquittoNotInstalledError(BrokerError):
    """The mosquitto or mosquitto_passwd executable is missing."""


def find_executable(name: str) -> str:
    """Return the path of a Mosquitto executable, or raise with the install step."""
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.is_file()), None
    )
    if found is None:
        raise MosquittoNotInstalledError(f"{name} not found: {INSTALL_HINT}")
    return found


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


def probe_login(host: str, port: int, username: str, password: str, timeout: float = 2.0) -> int:
    """Send one MQTT 3.1.1 CONNECT and return the CONNACK return code (0 means accepted)."""
    client_id = f"tt-probe-{secrets.token_hex(4)}"
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
    def password_file(self) -> Path:
        """The device listener's users."""
        return self._data_dir / "passwd"

    @property
    def center_password_file(self) -> Path:
        """The center listener's one user."""
        return self._data_dir / "center.passwd"

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
        """Create or update a broker user (``center`` on the center's listener, any other name
        on the devices'); if running, reload and wait until the login works."""
        self._write_password(name, password)
        if not self.running:
            return
        assert self._proc is not None
        self._proc.send_signal(signal.SIGHUP)
        self._wait_until_login_works(name, password)

    # --- internals ----------------------------------------------------------------------

    def _prepare(self) -> None:
        self._mosquitto = find_executable("mosquitto")
        super()._prepare()
        self._write_password(CENTER_USER, self._center_password)
        if not self.password_file.exists():  # mosquitto refuses a missing password_file
            self.password_file.touch(mode=0o600)

    def _ports_fixed(self) -> bool:
        return self._port is not None and self._center_port is not None

    def _pick_ports(self) -> None:
        asked, asked_center = self._asked_ports
        self._port = asked or free_port()
        self._center_port = asked_center or free_port()

    def _write_password(self, name: str, password: str) -> None:
        path = self.center_password_file if name == CENTER_USER else self.password_file
        create = not path.exists() or path.stat().st_size == 0
        command = [find_executable("mosquitto_passwd"), *(["-c"] if create else []), "-b",
                   str(path), name, password]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerError(f"mosquitto_passwd failed for user {name!r}: "
                              f"{(result.stderr or result.stdout).strip()}")

    def _render_config(self) -> None:
        text = DEV_CONF_TEMPLATE.read_text(encoding="utf-8")
        for key, value in {
            "{{PORT}}": str(self.port),
            "{{CENTER_PORT}}": str(self.center_port),
            "{{DATA_DIR}}": str(self._data_dir),
            "{{PASSWORD_FILE}}": str(self.password_file),
            "{{CENTER_PASSWORD_FILE}}": str(self.center_password_file),
            "{{ACL_FILE}}": str(self._acl_file),
            "{{LOG_FILE}}": str(self.log_path),
        }.items():
            text = text.replace(key, value)
        for host in self._extra_hosts:  # listener blocks go last: only their settings follow
            text += (f"\n# devices' listener on an extra address\nlistener {self.port} {host}\n"
                     f"allow_anonymous false\npassword_file {self.password_file}\n"
                     f"acl_file {self._acl_file}\nuse_username_as_clientid true\n")
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
        # "Reloading config." is logged BEFORE the reload is applied, so the log line proves
        # nothing; a login with the new credentials does.
        deadline = time.monotonic() + self._start_timeout
        code = -1
        while time.monotonic() < deadline:
            if not self.running:
                raise BrokerError(f"mosquitto exited while reloading:\n{self._log_tail()}")
            port = self.center_port if name == CENTER_USER else self.port
            code = probe_login(self.host, port, name, password)
            if code == _CONNACK_ACCEPTED:
                return
            if code not in _CONNACK_NOT_AUTHORIZED:
                break
            time.sleep(_POLL_INTERVAL)
        raise BrokerError(f"user {name!r} still cannot log in after reload (CONNACK {code}):\n"
                          f"{self._log_tail()}")

    def _log_paths(self) -> Sequence[Path]:
        return (*super()._log_paths(), self.log_path)
