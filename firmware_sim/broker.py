"""A real Mosquitto broker run as a child process, for development, the demo and tests.

The broker is configured from ``broker_config/mosquitto.dev.conf`` and ``broker_config/acl``:
password authentication, the per-device ``%u`` ACL and on-disk persistence in ``data_dir``.
The user ``center`` is created at start; devices are added with :meth:`MosquittoBroker.add_user`.
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
from pathlib import Path
from types import TracebackType
from typing import Self

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


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


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


class MosquittoBroker:
    """One ``mosquitto`` process on 127.0.0.1 with its config, users and database in ``data_dir``.

    ``restart()`` keeps the port and the data directory, so retained messages and persistent
    sessions are reloaded from ``mosquitto.db`` exactly as after a real broker restart.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        center_password: str | None = None,
        acl_file: Path = DEFAULT_ACL_FILE,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self._data_dir = Path(data_dir).resolve()
        self._requested_port = port
        self._port: int | None = port
        self._center_password = center_password or secrets.token_urlsafe(16)
        self._acl_file = Path(acl_file).resolve()
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    # --- properties ---------------------------------------------------------------------

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self._port is None:
            raise BrokerError("the broker has no port yet: call start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def log_path(self) -> Path:
        return self._data_dir / "mosquitto.log"

    @property
    def password_file(self) -> Path:
        return self._data_dir / "passwd"

    @property
    def config_path(self) -> Path:
        return self._data_dir / "mosquitto.conf"

    @property
    def center_username(self) -> str:
        return CENTER_USER

    @property
    def center_password(self) -> str:
        return self._center_password

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start mosquitto and return once its port accepts TCP connections."""
        if self.running:
            raise BrokerError(f"broker already running on {self.url}")
        mosquitto = find_executable("mosquitto")
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._write_password(CENTER_USER, self._center_password,
                             create=not self.password_file.exists())
        attempts = 1 if self._requested_port is not None or self._port is not None else 3
        for attempt in range(attempts):
            if self._port is None:
                self._port = free_port()
            self._render_config()
            if self._launch(mosquitto):
                logger.info("mosquitto started on %s (data %s)", self.url, self._data_dir)
                return
            if attempt + 1 < attempts and "Address already in use" in self._log_tail():
                logger.warning("port %d was taken before mosquitto bound it, retrying", self._port)
                self._port = None
                continue
            break
        raise BrokerError(f"mosquitto exited during start-up on port {self._port}:\n"
                          f"{self._log_tail()}")

    def stop(self) -> None:
        """SIGTERM the broker (it saves its database), kill it if it does not exit in time."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=self._stop_timeout)
        except subprocess.TimeoutExpired:
            logger.warning("mosquitto pid %d ignored SIGTERM for %.1fs, killing it",
                           proc.pid, self._stop_timeout)
            proc.kill()
            proc.wait(timeout=self._stop_timeout)
        logger.info("mosquitto on port %s stopped (exit %s)", self._port, proc.returncode)

    def restart(self) -> None:
        """Stop and start again on the same port with the same data directory."""
        self.stop()
        self.start()

    def add_user(self, name: str, password: str) -> None:
        """Create or update a broker user; if running, reload and wait until the login works."""
        self._write_password(name, password, create=not self.password_file.exists())
        if not self.running:
            return
        assert self._proc is not None
        self._proc.send_signal(signal.SIGHUP)
        self._wait_until_login_works(name, password)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- internals ----------------------------------------------------------------------

    def _write_password(self, name: str, password: str, *, create: bool) -> None:
        command = [find_executable("mosquitto_passwd"), *(["-c"] if create else []), "-b",
                   str(self.password_file), name, password]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerError(f"mosquitto_passwd failed for user {name!r}: "
                              f"{(result.stderr or result.stdout).strip()}")

    def _render_config(self) -> None:
        text = DEV_CONF_TEMPLATE.read_text(encoding="utf-8")
        for key, value in {
            "{{PORT}}": str(self.port),
            "{{DATA_DIR}}": str(self._data_dir),
            "{{PASSWORD_FILE}}": str(self.password_file),
            "{{ACL_FILE}}": str(self._acl_file),
            "{{LOG_FILE}}": str(self.log_path),
        }.items():
            text = text.replace(key, value)
        self.config_path.write_text(text, encoding="utf-8")

    def _launch(self, mosquitto: str) -> bool:
        """Start the process; True once the port accepts connections, False if it exited."""
        stderr_path = self._data_dir / "mosquitto.stderr"
        with stderr_path.open("ab") as stderr:
            self._proc = subprocess.Popen(
                [mosquitto, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                start_new_session=True,  # a Ctrl-C in the terminal is for us, not for the broker
            )
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            with contextlib.suppress(OSError), socket.create_connection(
                (self.host, self.port), timeout=0.5
            ):
                return True
            time.sleep(_POLL_INTERVAL)
        self.stop()
        raise BrokerError(f"mosquitto did not accept connections on {self.url} within "
                          f"{self._start_timeout:.0f}s:\n{self._log_tail()}")

    def _wait_until_login_works(self, name: str, password: str) -> None:
        # "Reloading config." is logged BEFORE the reload is applied, so the log line proves
        # nothing; a login with the new credentials does.
        deadline = time.monotonic() + self._start_timeout
        code = -1
        while time.monotonic() < deadline:
            if not self.running:
                raise BrokerError(f"mosquitto exited while reloading:\n{self._log_tail()}")
            code = probe_login(self.host, self.port, name, password)
            if code == _CONNACK_ACCEPTED:
                return
            if code not in _CONNACK_NOT_AUTHORIZED:
                break
            time.sleep(_POLL_INTERVAL)
        raise BrokerError(f"user {name!r} still cannot log in after reload (CONNACK {code}):\n"
                          f"{self._log_tail()}")

    def _log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self._data_dir / "mosquitto.stderr", self.log_path):
            if path.exists():
                tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name} ---\n" + "\n".join(tail))
        return "\n".join(parts) or "(no log output)"
