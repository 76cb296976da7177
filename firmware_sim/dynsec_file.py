"""The dynamic-security plugin's JSON file, edited while the broker is stopped.

Mosquitto's dynamic-security plugin reads this file once at start and rewrites it after every
change made through its control topic. While the broker runs, changes go through that topic
(:mod:`firmware_sim.dynsec_control`); before it starts, :class:`DynsecFile` writes them here,
in the plugin's own format (checked on 2.0.11: PBKDF2-HMAC-SHA512, 64-byte hash, the salt and
the hash in base64, 101 iterations as ``mosquitto_ctrl dynsec init`` writes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

PBKDF2_ITERATIONS = 101
SALT_BYTES = 12

# All false, so that the ACL file decides. Mosquitto 2.0.11 asks the plugin first: for a client
# without roles it answers with these defaults, where "true" ALLOWS (and the ACL file is never
# asked) and "false" passes the question on. The plugin's own defaults (what
# ``mosquitto_ctrl dynsec init`` writes) have publishClientReceive true, which would let every
# device read every other device's manifest (checked on 2.0.11).
DEFAULT_ACL_ACCESS = {"publishClientSend": False, "publishClientReceive": False,
                      "subscribe": False, "unsubscribe": False}


def password_fields(password: str) -> dict[str, Any]:
    """The ``password``, ``salt`` and ``iterations`` of one client, as the plugin stores them."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS, 64)
    return {"password": base64.b64encode(digest).decode(),
            "salt": base64.b64encode(salt).decode(), "iterations": PBKDF2_ITERATIONS}


class DynsecFile:
    """The plugin's clients, loaded from ``path`` (or empty) and saved atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            self._data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            self._data["defaultACLAccess"] = dict(DEFAULT_ACL_ACCESS)
        else:
            self._data = {"defaultACLAccess": dict(DEFAULT_ACL_ACCESS), "clients": [],
                          "groups": [], "roles": []}

    def _find(self, username: str) -> dict[str, Any] | None:
        clients: list[dict[str, Any]] = self._data["clients"]
        return next((c for c in clients if c.get("username") == username), None)

    def put_client(self, username: str, password: str, *, client_id: str | None) -> None:
        """Create the client, or give an existing one this password and enable it.

        ``client_id``: the only client id it may connect with (None: any)."""
        client = self._find(username)
        if client is None:
            client = {"username": username, "roles": []}
            self._data["clients"].append(client)
        client.update(password_fields(password))
        client.pop("disabled", None)
        if client_id is None:
            client.pop("clientid", None)
        else:
            client["clientid"] = client_id

    def set_disabled(self, username: str, disabled: bool) -> None:
        client = self._find(username)
        if client is None:
            raise KeyError(username)
        if disabled:
            client["disabled"] = True
        else:
            client.pop("disabled", None)

    def remove(self, username: str) -> None:
        """Delete the client; an unknown one is already gone."""
        self._data["clients"] = [c for c in self._data["clients"]
                                 if c.get("username") != username]

    def clients(self) -> dict[str, bool]:
        """User name -> enabled."""
        return {c["username"]: not c.get("disabled", False) for c in self._data["clients"]}

    def save(self) -> None:
        """Write the file atomically, readable by its owner only (it holds password hashes)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self._data, out, indent=1)
        os.replace(tmp, self.path)
