"""Run an ASGI app in a real uvicorn server on a free loopback port, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from firmware_sim.broker import free_port


@contextmanager
def serve_asgi(app: ASGIApp, *, startup_timeout: float = 15.0) -> Iterator[str]:
    """Yield the base URL while the server runs; stop it on exit."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline_step = 0.02
    waited = 0.0
    started = threading.Event()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited during start-up (see log above)")
        if waited > startup_timeout:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start within {startup_timeout} s")
        started.wait(deadline_step)  # server.started has no event to await
        waited += deadline_step
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
