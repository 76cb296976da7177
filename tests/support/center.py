"""Run the real control center (FastAPI app in uvicorn, MQTT bridge, refresher) in-process.

    with running_center(tmp_path / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password) as center:
        center.api.post("/api/v1/units", json={...})

The server listens on a free 127.0.0.1 port (a socket bound before start-up, so no race).
Reusing the same ``data_dir`` in a second ``running_center`` is a center restart: same
database, API token, signing key and MQTT session (client id "control-center").
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from control_center.config import Settings, get_settings
from control_center.main import create_app
from control_center.workers.runtime import Center
from tests.support.databases import default_url
from tests.support.waiting import wait_until

log = logging.getLogger(__name__)

_POLL_S = 0.02


@dataclass
class CenterHandle:
    """A running center; ``api`` is an httpx client with the bearer token (root base URL)."""

    base_url: str
    api_token: str
    public_key_b64: str
    api: httpx.Client
    settings: Settings
    app: FastAPI

    @property
    def center(self) -> Center:
        """The in-process runtime (bridge, ingestor, manifests, refresher) for white-box waits."""
        center: Center = self.app.state.center
        return center

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def media_url(self, sha256: str) -> str:
        return f"{self.base_url}/api/v1/media/{sha256}"

    def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 10.0,
                 what: str = "condition") -> Any:
        """Poll ``predicate`` until it returns a truthy value; AssertionError after timeout."""
        return wait_until(predicate, timeout, what, interval=_POLL_S)


@contextmanager
def running_center(
    tmp_path: Path,
    *,
    mqtt_host: str,
    mqtt_port: int,
    mqtt_password: str,
    mqtt_username: str = "center",
    port: int | None = None,
    wait_mqtt: bool = True,
    startup_timeout: float = 30.0,
    clock: Callable[[], datetime] | None = None,
    extra_hosts: Sequence[str] = (),
    public_host: str | None = None,
    **settings_overrides: Any,
) -> Iterator[CenterHandle]:
    """Start the center with its data in ``tmp_path``; yield a handle; stop it cleanly.

    ``settings_overrides`` are ``Settings`` field names (e.g. ``horizon_hours=1``,
    ``refresh_seconds=0.5``, ``max_upload_bytes=...``, ``mqtt_client_id=...``).
    With ``wait_mqtt`` the handle is yielded only once the bridge is connected to the broker
    (a refused login fails at once). ``clock`` replaces the center's UTC clock.
    ``extra_hosts``: more local addresses (a test's veth address) the server also listens on,
    same port; ``public_host``: the host in the public base URL (media URLs in manifests).
    Without a ``database_url`` the center gets the session's selected database for
    ``tmp_path`` (:mod:`tests.support.databases`: SQLite, or a PostgreSQL database).
    """
    if "database_url" not in settings_overrides and (url := default_url(tmp_path)):
        settings_overrides["database_url"] = url
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port or 0))
    bound_port = sock.getsockname()[1]
    sockets = [sock]
    for host in extra_hosts:
        extra = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        extra.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        extra.bind((host, bound_port))
        sockets.append(extra)
    base_url = f"http://{public_host or '127.0.0.1'}:{bound_port}"
    settings = _settings(tmp_path, base_url, mqtt_host, mqtt_port, mqtt_username, mqtt_password,
                         settings_overrides)
    app = create_app(settings) if clock is None else create_app(settings, clock=clock)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False,
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets},
                              name=f"center-{bound_port}", daemon=True)
    thread.start()
    api: httpx.Client | None = None
    try:
        _wait_started(server, thread, startup_timeout)
        center: Center = app.state.center
        if wait_mqtt:
            _wait_mqtt(center, startup_timeout)
        api = httpx.Client(base_url=base_url, timeout=30.0,
                           headers={"Authorization": f"Bearer {settings.api_token}"})
        yield CenterHandle(base_url=base_url, api_token=settings.api_token,
                           public_key_b64=center.public_key_b64, api=api, settings=settings,
                           app=app)
    finally:
        if api is not None:
            api.close()
        _stop(server, thread)
        for each in sockets:
            each.close()


def _settings(
    data_dir: Path, base_url: str, host: str, port: int, username: str, password: str,
    overrides: dict[str, Any],
) -> Settings:
    settings = get_settings({
        "TT_DATA_DIR": str(data_dir),
        "TT_MQTT_HOST": host,
        "TT_MQTT_PORT": str(port),
        "TT_MQTT_USERNAME": username,
        "TT_MQTT_PASSWORD": password,
        "TT_PUBLIC_BASE_URL": base_url,
    })
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown Settings field(s) {unknown}; known: {sorted(known)}")
    return dataclasses.replace(settings, **overrides)


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    def started() -> bool:
        if server.started:
            return True
        if not thread.is_alive():
            raise RuntimeError("the control center failed to start (see the log output above)")
        return False

    wait_until(started, timeout, "the control center to start", interval=_POLL_S)


def _wait_mqtt(center: Center, timeout: float) -> None:
    bridge = center.bridge
    deadline = time.monotonic() + timeout
    while not bridge.wait_connected(_POLL_S * 5):
        if bridge.state == "auth_failed" or time.monotonic() > deadline:
            opts = bridge.options
            raise RuntimeError(
                f"the center did not connect to the broker {opts.host}:{opts.port} "
                f"as {opts.username!r} ({bridge.state}: {bridge.last_error})"
            )


def _stop(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=20)
    if thread.is_alive():
        log.warning("center server did not stop in 20 s; forcing exit")
        server.force_exit = True
        thread.join(timeout=10)
