"""What the center asks of the broker about device accounts.

``BrokerAccounts`` is the one interface the services use. ``DynsecAccounts``
(``control_center.broker.dynsec``) drives Mosquitto's dynamic-security plugin over its control
topic; ``UnmanagedAccounts`` is for a broker the center does not manage (password file and ACL
file kept by hand, docs/devices.md): it only logs what an administrator must do.
"""

from __future__ import annotations

import logging
from typing import Protocol

from control_center.errors import BrokerUnavailable, CenterError

log = logging.getLogger(__name__)

__all__ = ["BrokerAccounts", "BrokerRefused", "BrokerUnavailable", "UnmanagedAccounts"]


class BrokerRefused(CenterError):
    """The broker answered with an error for an account change (502: a fault between the
    center and its broker, not in the request)."""

    status_code = 502


class BrokerAccounts(Protocol):
    """Device accounts on the broker; every call returns once the broker confirmed it."""

    managed: bool

    def create(self, device_id: str, password: str) -> None:
        """Create (or replace the password of, and enable) the device's account."""

    def set_password(self, device_id: str, password: str) -> None:
        """Change the password; new logins need it (Mosquitto 2.0's plugin also disconnects
        the device's current connection, which then logs in again with the new password)."""

    def disable(self, device_id: str) -> None:
        """Refuse the device's logins from now on and disconnect it at once."""

    def enable(self, device_id: str) -> None:
        """Accept the device's logins again."""

    def delete(self, device_id: str) -> None:
        """Remove the account (and disconnect the device)."""


class UnmanagedAccounts:
    """A broker kept by hand: nothing is sent; each change is logged for the administrator."""

    managed = False

    def _note(self, what: str, device_id: str) -> None:
        log.warning("broker not managed by the center: %s the account %r by hand "
                    "(python -m control_center broker-passwd, then reload mosquitto)",
                    what, device_id)

    def create(self, device_id: str, password: str) -> None:
        self._note("create", device_id)

    def set_password(self, device_id: str, password: str) -> None:
        self._note("change the password of", device_id)

    def disable(self, device_id: str) -> None:
        self._note("remove", device_id)

    def enable(self, device_id: str) -> None:
        self._note("restore", device_id)

    def delete(self, device_id: str) -> None:
        self._note("remove", device_id)
