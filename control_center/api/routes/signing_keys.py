"""Rotating the center's signing key: announce a new key, then activate it (docs/devices.md).
A center-wide action (``core.access``): the API token, or an administrator of a root unit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from sqlalchemy.orm import Session

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.schemas.signing_keys import (
    ActivateRequest,
    RotationStatus,
    SigningKeyPublic,
)
from control_center.services import signing_keys
from control_center.workers.runtime import Center

router = APIRouter(prefix="/signing-keys", tags=["devices"])


def _status(session: Session, center: Center) -> RotationStatus:
    done = signing_keys.progress(session)
    return RotationStatus(
        signing_kid=center.signer.key_id,
        keys=[SigningKeyPublic.model_validate(k) for k in signing_keys.keys(session)],
        active_devices=done.active, confirmed_devices=done.confirmed,
        waiting_devices=list(done.waiting))


@router.get("", response_model=RotationStatus)
def rotation_status(session: SessionDep, center: CenterDep, actor: ActorDep) -> RotationStatus:
    """The keys and how many active devices hold the one being announced."""
    return _status(session, center)


@router.post("/rotate", response_model=RotationStatus, status_code=201)
def announce_key(
    session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep,
) -> RotationStatus:
    """Make a new key; every manifest (still signed with the current key) announces it."""
    signing_keys.announce(session, center.keyring, keys_dir=center.settings.data_dir / "keys",
                          configured_path=center.settings.signing_key_path, actor=actor,
                          now=now)
    return _status(session, center)


@router.post("/activate", response_model=RotationStatus)
def activate_key(
    session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep,
    data: Annotated[ActivateRequest | None, Body()] = None,
) -> RotationStatus:
    """Sign with the announced key and retire the old one; 409 while active devices do not
    hold the new key yet, unless forced."""
    signing_keys.activate(session, center.keyring, force=(data or ActivateRequest()).force,
                          actor=actor, now=now)
    return _status(session, center)
