"""systemd's watchdog: the agent says it is alive only while its loops advance.

Under a unit with ``WatchdogSec=``, systemd sets ``NOTIFY_SOCKET`` and ``WATCHDOG_USEC``; the
agent then sends ``WATCHDOG=1`` every half period, but only while every supervised loop
(player first) has gone round within ``stale_after_s``. A wedged agent stops notifying and
systemd restarts it. The notify protocol is one datagram on a Unix socket (sd_notify(3)), so
it is written here rather than pulled in from libsystemd.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

from edge_agent.supervision import Heartbeats

log = logging.getLogger(__name__)
WATCHED = ("player", "downloader")


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one sd_notify message; False when not run under systemd's notify socket."""
    address = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(message.encode(), address)
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", address.lstrip("\0"), exc)
            return False
    return True


class Watchdog:
    """Pings systemd's watchdog while the watched loops advance."""

    def __init__(self, heartbeats: Heartbeats, *, stale_after_s: float,
                 environ: Mapping[str, str] | None = None) -> None:
        self._env = dict(os.environ if environ is None else environ)
        self._heartbeats = heartbeats
        self._stale_after_s = stale_after_s
        usec = self._env.get("WATCHDOG_USEC", "")
        self.period_s = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self.pings = 0
        self.withheld = 0

    def start(self) -> None:
        notify("READY=1", self._env)
        if self.period_s is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        notify("STOPPING=1", self._env)

    def stale(self) -> list[str]:
        """The watched loops that have not gone round within the limit."""
        out = []
        for loop in WATCHED:
            age = self._heartbeats.age(loop)
            if age is None or age > self._stale_after_s:
                out.append(loop)
        return out

    def _run(self) -> None:
        assert self.period_s is not None
        while not self._stop.wait(self.period_s):
            stale = self.stale()
            if stale:
                self.withheld += 1
                log.error("watchdog withheld: %s not advancing", ", ".join(stale))
                continue
            if notify("WATCHDOG=1", self._env):
                self.pings += 1
