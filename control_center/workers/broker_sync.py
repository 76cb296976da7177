"""Keeps the broker's device accounts in line with the device table.

Runs after every (re)connection of the accounts client and every ``interval_s``:

- a retired or revoked device whose account is enabled: disabled (a retire or revoke whose
  broker call failed is completed here);
- an enabled account with a device-like name the database does not know (not the center's),
  in two runs in a row: disabled and logged (once is not enough: a device being registered
  gets its account a moment before its row is committed);
- an enrolled active device with no account: logged once (the center cannot recreate it
  without the password; a new enrolment code gives the device a new one).

Every outcome is counted; an error is counted and logged, and the next run tries again.

With several brokers there is one reconciler per broker, and it sees only the devices recorded
on its broker (``devices.broker``): the account a device left behind when it moved to another
broker is "unknown" here, and disabled like any stray one.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from control_center.models import Device, DeviceState
from protocol.errors import TopicError
from protocol.topics import validate_device_id

log = logging.getLogger(__name__)


class ListedAccounts(Protocol):
    """What the reconciler needs of the broker (``DynsecAccounts`` has it)."""

    def list_clients(self) -> dict[str, bool]: ...

    def disable(self, device_id: str) -> None: ...


def device_like(name: str) -> bool:
    try:
        validate_device_id(name)
    except TopicError:
        return False
    return True


class BrokerSync:
    """One background thread; ``nudge`` asks for a run soon, ``run_once`` runs one now."""

    def __init__(self, *, accounts: ListedAccounts, sessions: sessionmaker[Session],
                 interval_s: float, center_username: str, broker: str = "main") -> None:
        self._accounts = accounts
        self._broker = broker
        self._sessions = sessions
        self._interval = interval_s
        self._center = center_username
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self._suspects: set[str] = set()  # unknown accounts seen by the previous run
        self._one_run = threading.Lock()
        self.counters: Counter[str] = Counter()

    def start(self) -> None:
        self._stop.clear()  # startable again after stop (an elected role)
        self._thread = threading.Thread(target=self._loop, name=f"broker-sync-{self._broker}",
                                        daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """A run soon (the accounts client connected); safe from any thread."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_for_runs(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` runs have ended (with or without errors)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.counters["runs"] >= count, timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                self.run_once()
            except Exception:  # counted; the next run tries again
                log.exception("broker sync failed")
                with self._cond:
                    self.counters["errors"] += 1
            finally:
                with self._cond:
                    self.counters["runs"] += 1
                    self._cond.notify_all()

    def run_once(self) -> Counter[str]:
        """One reconciliation; returns what it did (also added to ``counters``)."""
        with self._one_run:
            return self._reconcile()

    def _reconcile(self) -> Counter[str]:
        accounts = self._accounts.list_clients()
        with self._sessions() as session:
            devices = {row.id: (row.state, row.enrolled_at is not None) for row in session.execute(
                select(Device.id, Device.state, Device.enrolled_at)
                .where(Device.broker == self._broker))}
        done: Counter[str] = Counter()
        unknown = {name for name, enabled in accounts.items()
                   if enabled and name != self._center and name not in devices
                   and device_like(name)}
        suspects, self._suspects = self._suspects, unknown
        for name in sorted(unknown & suspects):
            log.warning("account %r on broker %s belongs to no device of that broker: "
                        "disabling it", name, self._broker)
            self._accounts.disable(name)
            self._suspects.discard(name)
            done["disabled_unknown"] += 1
        for name, enabled in sorted(accounts.items()):
            known = devices.get(name)
            if enabled and known is not None and known[0] != DeviceState.ACTIVE:
                log.info("device %s is %s: disabling its broker account", name, known[0].value)
                self._accounts.disable(name)
                done["disabled_inactive"] += 1
        for device_id, (state, enrolled) in sorted(devices.items()):
            if (state == DeviceState.ACTIVE and enrolled and device_id not in accounts
                    and device_id not in self._warned):
                log.warning("device %s is enrolled but has no broker account: it cannot "
                            "connect; issue it a new enrolment code", device_id)
                self._warned.add(device_id)
                done["missing_accounts"] += 1
        with self._cond:
            self.counters.update(done)
        return done
