"""Run an ASGI app in a real uvicorn server on a free loopback port, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from firmware_sim.broker import free_port
from tests.support.waiting import wait_until


@contextmanager
def serve_asgi(app: ASGIApp, *, startup_timeout: float = 15.0) -> Iterator[str]:
    """Yield the base URL while the server runs; stop it on exit."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()

    def started() -> bool:  # server.started has no event to await
        if server.started:
            return True
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited during start-up (see log above)")
        return False

    try:
        wait_until(started, startup_timeout, "uvicorn to start", interval=0.02)
    except AssertionError:
        server.should_exit = True
        raise
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
