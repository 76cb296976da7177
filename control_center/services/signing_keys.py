"""Rotating the center's signing key without touching a device (docs/devices.md).

1. ``announce``: a new key is made (a 0600 file beside the data) and every manifest, still
   signed with the current key, lists both keys in ``trusted_keys``; each device adds the new
   key when it verifies such a manifest.
2. ``activate``: once every active device has acknowledged a manifest built after the
   announcement (or when forced), the new key signs everything and manifests list it alone;
   a device drops the old key when it verifies one of them. The old key is retired.

The ``signing_keys`` table is the truth once a rotation has begun: at start the center signs
with the row marked current, whatever ``TT_SIGNING_KEY_PATH`` says.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.errors import Conflict
from control_center.models import Device, DeviceState, ManifestState, SigningKey, SigningKeyState
from protocol.secret_files import write_secret_file
from protocol.signing import Signer, key_id, load_private_key, private_key_pem, public_key_b64


@dataclass(frozen=True, slots=True)
class Progress:
    """How far devices are with a key being announced."""

    active: int
    confirmed: int
    waiting: tuple[str, ...]  # up to 50 device ids not confirmed yet


class KeyRing:
    """The signer plus the keys manifests must list (empty until a first rotation)."""

    def __init__(self, signer: Signer, trusted: tuple[str, ...] = ()) -> None:
        self.signer = signer
        self._trusted = trusted
        self._lock = threading.Lock()

    @property
    def manifest_keys(self) -> tuple[str, ...]:
        """What manifests carry in ``trusted_keys`` (empty: the field is left out)."""
        return self._trusted

    def device_keys(self) -> list[str]:
        """What a device must trust now: the signing key first, then one being announced."""
        current = public_key_b64(self.signer.public_key)
        return [current, *(k for k in self._trusted if k != current)]

    def set(self, trusted: tuple[str, ...], key: Ed25519PrivateKey | None = None) -> None:
        with self._lock:
            if key is not None:
                self.signer.replace(key)
            self._trusted = trusted


def load_ring(engine: Engine) -> KeyRing | None:
    """The key ring as the database records it; None before a first rotation (the center
    then signs with its configured key)."""
    if not inspect(engine).has_table(SigningKey.__tablename__):
        return None
    with Session(engine) as session:
        rows = list(session.scalars(select(SigningKey)))
    current = next((r for r in rows if r.state == SigningKeyState.CURRENT), None)
    if current is None:
        return None
    return KeyRing(Signer(load_private_key(Path(current.path))), _trusted(rows))


def _trusted(rows: list[SigningKey]) -> tuple[str, ...]:
    live = [r for r in rows if r.state != SigningKeyState.RETIRED]
    if len(rows) <= 1:
        return ()
    order = {SigningKeyState.CURRENT: 0, SigningKeyState.NEXT: 1}
    return tuple(r.public_key for r in sorted(live, key=lambda r: order[r.state]))


def _all_active(session: Session) -> list[str]:
    return list(session.scalars(select(Device.id).where(Device.state == DeviceState.ACTIVE)))


def announce(session: Session, ring: KeyRing, *, keys_dir: Path, configured_path: Path,
             actor: Actor, now: datetime) -> SigningKey:
    """Make the next key and have every manifest announce it."""
    rows = list(session.scalars(select(SigningKey)))
    if any(r.state == SigningKeyState.NEXT for r in rows):
        raise Conflict("a new key is already being announced: activate it first")
    if not rows:  # the first rotation: record the key in use
        public = ring.signer.public_key
        session.add(SigningKey(kid=key_id(public), public_key=public_key_b64(public),
                               state=SigningKeyState.CURRENT, path=str(configured_path),
                               created_at=now, activated_at=now))
    key = Ed25519PrivateKey.generate()
    kid = key_id(key.public_key())
    path = keys_dir / f"center_ed25519_{kid}.pem"
    write_secret_file(path, private_key_pem(key))
    row = SigningKey(kid=kid, public_key=public_key_b64(key.public_key()),
                     state=SigningKeyState.NEXT, path=str(path), created_at=now)
    session.add(row)
    session.flush()
    manifests_changed(session, _all_active(session))
    audit.record(session, actor=actor, action="announce", object_type="signing_key",
                 object_id=kid, detail={"path": str(path)}, at=now, flagged=True)
    _commit_with(session, ring, _trusted(list(session.scalars(select(SigningKey)))))
    return row


def progress(session: Session) -> Progress:
    """Active devices that acknowledged a manifest built since the next key was announced."""
    row = session.scalar(select(SigningKey).where(SigningKey.state == SigningKeyState.NEXT))
    active = _all_active(session)
    if row is None:
        return Progress(len(active), len(active), ())
    confirmed = set(session.scalars(
        select(Device.id).join(ManifestState, ManifestState.device_id == Device.id).where(
            Device.state == DeviceState.ACTIVE, ManifestState.built_at >= row.created_at,
            Device.manifest_version_acked >= ManifestState.version)))
    waiting = tuple(d for d in active if d not in confirmed)
    return Progress(len(active), len(active) - len(waiting), waiting[:50])


def activate(session: Session, ring: KeyRing, *, force: bool, actor: Actor,
             now: datetime) -> SigningKey:
    """Sign with the announced key from now on and retire the old one."""
    row = session.scalar(select(SigningKey).where(SigningKey.state == SigningKeyState.NEXT))
    if row is None:
        raise Conflict("no new key is being announced: start a rotation first")
    done = progress(session)
    if done.waiting and not force:
        raise Conflict(f"{len(done.waiting) if done.active - done.confirmed <= 50 else 'many'} "
                       f"of {done.active} active device(s) do not hold the new key yet "
                       f"({', '.join(done.waiting[:10])}...): wait until they are online, or "
                       "force (they will refuse everything signed until re-enrolled)")
    key = load_private_key(Path(row.path))
    for old in session.scalars(select(SigningKey).where(
            SigningKey.state == SigningKeyState.CURRENT)):
        old.state, old.retired_at = SigningKeyState.RETIRED, now
    row.state, row.activated_at = SigningKeyState.CURRENT, now
    session.flush()
    manifests_changed(session, _all_active(session))
    audit.record(session, actor=actor, action="activate", object_type="signing_key",
                 object_id=row.kid, detail={"forced": force, "waiting": len(done.waiting)},
                 at=now, flagged=True)
    _commit_with(session, ring, _trusted(list(session.scalars(select(SigningKey)))), key)
    return row


def _commit_with(session: Session, ring: KeyRing, trusted: tuple[str, ...],
                 key: Ed25519PrivateKey | None = None) -> None:
    """Commit with the ring already changed (the manifests rebuilt after the commit must carry
    the new keys); a failed commit puts the ring back."""
    before = (ring.manifest_keys, ring.signer.current_private_key)
    ring.set(trusted, key)
    try:
        session.commit()
    except BaseException:
        ring.set(before[0], before[1])
        raise


def keys(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at)))
