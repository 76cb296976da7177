"""What the agent logs in and verifies with, as it changes after enrolment.

- ``BrokerPasswords``: the broker password in use and one being rotated in. A
  ``rotate_credential`` command stores the new one as ``next``; the link tries it first on
  every (re)connection and falls back to ``current`` when the broker refuses it, so a rotation
  the center never completed locks nothing out. The first login that works with ``next``
  makes it ``current``.
- ``TrustedKeys``: the center keys manifests and commands must be signed with. A verified
  manifest listing ``trusted_keys`` (a key rotation, docs/protocol.md) replaces the set.

Both live in the agent's data directory, written atomically with mode 0600.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from protocol.errors import ProtocolError
from protocol.manifest import Manifest
from protocol.secret_files import write_secret_file
from protocol.signing import Verifier, key_id, public_key_from_b64

log = logging.getLogger(__name__)


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.error("ignoring unreadable %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


class BrokerPasswords:
    """The current broker password and the one being rotated in (``next``)."""

    def __init__(self, path: Path | None, configured: str) -> None:
        """``path`` None: kept in memory only (a link whose password is never rotated)."""
        self._path = path
        self._lock = threading.Lock()
        saved = _read(path) if path is not None else {}
        current, nxt = saved.get("current"), saved.get("next")
        self.current = current if isinstance(current, str) and current else configured
        self.next = nxt if isinstance(nxt, str) and nxt else None

    def candidates(self) -> list[str]:
        """Passwords to try, in order (never empty)."""
        with self._lock:
            return [self.next, self.current] if self.next else [self.current]

    def propose(self, password: str) -> None:
        """Keep ``password`` to try first from the next connection on."""
        with self._lock:
            self.next = password
            self._save()

    def replace(self, password: str) -> None:
        """Use ``password`` alone from the next connection on (a move to another broker,
        where the old one means nothing)."""
        with self._lock:
            self.current, self.next = password, None
            self._save()

    def worked(self, password: str) -> None:
        """A login succeeded with ``password``: promote it, or forget a ``next`` that failed."""
        with self._lock:
            if password == self.next:
                self.current, self.next = password, None
                log.info("the rotated broker password works: it is now the current one")
            elif self.next is not None:
                log.warning("the rotated broker password was refused; keeping the old one")
                self.next = None
            else:
                return
            self._save()

    def _save(self) -> None:
        if self._path is None:
            return
        write_secret_file(self._path, json.dumps(
            {"current": self.current, "next": self.next}).encode())


class TrustedKeys:
    """The center's public keys (base64) this device accepts signatures from."""

    def __init__(self, path: Path, configured: tuple[str, ...]) -> None:
        self._path = path
        saved = _read(path).get("keys")
        keys = [k for k in saved if isinstance(k, str)] if isinstance(saved, list) else []
        self.keys: tuple[str, ...] = tuple(keys) or configured

    def replace(self, keys: tuple[str, ...]) -> bool:
        """Trust exactly ``keys`` from now on (False when nothing changes)."""
        if set(keys) == set(self.keys):
            return False
        write_secret_file(self._path, json.dumps({"keys": list(keys)}).encode())
        log.warning("center keys changed: now trusting %d key(s)", len(keys))
        self.keys = keys
        return True

    def adopt(self, manifest: Manifest, raw: bytes, verifier: Verifier) -> None:
        """A key rotation: trust exactly the keys a verified manifest lists, provided the key
        that signed it stays among them (``verifier`` follows)."""
        if not manifest.trusted_keys:
            return
        try:
            listed = [public_key_from_b64(k) for k in manifest.trusted_keys]
        except ProtocolError as exc:
            log.error("manifest v%d lists a malformed key: %s", manifest.version, exc)
            return
        if Verifier.signer_of(raw) not in {key_id(k) for k in listed}:
            log.error("manifest v%d lists keys without its own signer: ignored",
                      manifest.version)
            return
        if self.replace(tuple(manifest.trusted_keys)):
            verifier.trust(listed)
