"""Agent releases (upload, the signed manifest and wheels devices fetch), rollouts in waves,
and the agent versions the fleet runs (``GET /devices/versions``, mounted before the devices
router so ``versions`` is not taken for a device id)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.api.release_upload import OPENAPI_BODY, receive_release, require_multipart
from control_center.core.actor import Actor
from control_center.schemas.common import ItemList
from control_center.schemas.releases import (
    ReleasePublic,
    RolloutCreate,
    RolloutPublic,
    VersionCount,
)
from control_center.services import releases, rollouts
from control_center.workers.runtime import Center

router = APIRouter(tags=["releases"])
public_router = APIRouter(prefix="/releases", tags=["releases"])

VersionPath = Annotated[str, Path(max_length=64, description="the release's version")]
NamePath = Annotated[str, Path(max_length=200, description="a wheel's file name")]
_IMMUTABLE = "public, max-age=31536000, immutable"


@router.post("/releases", response_model=ReleasePublic, status_code=201,
             openapi_extra=OPENAPI_BODY)
async def upload_release(request: Request, center: CenterDep, actor: ActorDep,
                         now: NowDep) -> ReleasePublic:
    """Multipart ``version``, ``notes`` (optional) and one or more ``files`` (.whl), among
    them the project's wheel of that version. Administrators of a root unit (or the API
    token) only: 403 otherwise (the route's gate). 409 for a version that exists; 422 for a
    bad version or wheel name, an empty or non-zip file, or no project wheel of that
    version; 413 too large."""
    settings = center.settings
    require_multipart(request)
    staging = releases.ReleaseStaging(root=releases.releases_dir(settings.data_dir),
                                      max_bytes=settings.max_upload_bytes)
    texts = await receive_release(request, staging=staging,
                                  max_bytes=settings.max_upload_bytes)
    return await run_in_threadpool(_store, center, staging, texts, actor, now)


def _store(center: Center, staging: releases.ReleaseStaging, texts: dict[str, str],
           actor: Actor, now: datetime) -> ReleasePublic:
    settings = center.settings
    with center.sessions() as session:
        release = releases.store_release(
            session, staging=staging, version=texts.get("version", ""),
            notes=texts.get("notes", ""), signer=center.signer,
            public_base_url=settings.public_base_url,
            root=releases.releases_dir(settings.data_dir), actor=actor, now=now)
        running = {c.version: c.devices for c in releases.version_counts(session, actor=actor)}
        return releases.release_public(release, public_base_url=settings.public_base_url,
                                       running=running)


@router.get("/releases", response_model=ItemList[ReleasePublic])
def list_releases(session: SessionDep, center: CenterDep,
                  actor: ActorDep) -> ItemList[ReleasePublic]:
    """Every release, newest first, with the active devices of your subtree running it."""
    running = {c.version: c.devices for c in releases.version_counts(session, actor=actor)}
    base = center.settings.public_base_url
    return ItemList.of([releases.release_public(r, public_base_url=base, running=running)
                        for r in releases.list_releases(session)])


@public_router.get("/{version}/manifest", responses={200: {"content": {"application/json": {}}}})
def release_manifest(version: VersionPath, session: SessionDep) -> Response:
    """The signed release manifest, byte for byte as ``manifest_sha256`` names it (no token:
    devices check the signature and the hash)."""
    release = releases.get_release(session, version=version)
    return Response(release.envelope.encode(), media_type="application/json",
                    headers={"Cache-Control": "no-cache"})


@public_router.get("/{version}/files/{name}", response_class=FileResponse,
                   responses={200: {"content": {"application/octet-stream": {}}},
                              206: {"description": "a byte range"}})
def release_file(version: VersionPath, name: NamePath, center: CenterDep) -> FileResponse:
    """A wheel of the release (no token; the signed manifest gives its SHA-256). Supports
    ``Range: bytes=...`` (206, 416 beyond the end) for resumed downloads."""
    with center.read_sessions() as session:
        path = releases.release_file(session, root=releases.releases_dir(center.settings.data_dir),
                                     version=version, name=name)
    return FileResponse(path, media_type="application/octet-stream", filename=name,
                        headers={"Cache-Control": _IMMUTABLE})


@router.post("/rollouts", response_model=RolloutPublic, status_code=201)
def create_rollout(data: RolloutCreate, session: SessionDep, center: CenterDep,
                   actor: ActorDep, now: NowDep) -> RolloutPublic:
    """Offer a release to the devices of ``targets`` (inside your subtree) in waves; devices
    already on the version are skipped. The first wave is sent at once."""
    rollout = rollouts.create_rollout(session, data=data, actor=actor, now=now)
    created = rollouts.rollout_public(session, rollout, detailed=True)
    center.rollouts.nudge()
    return created


@router.get("/rollouts", response_model=ItemList[RolloutPublic])
def list_rollouts(session: SessionDep, actor: ActorDep,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100,
                  offset: Annotated[int, Query(ge=0)] = 0) -> ItemList[RolloutPublic]:
    """Newest first: those started inside your subtree or reaching only devices of it."""
    return ItemList.of([rollouts.rollout_public(session, r) for r in
                        rollouts.list_rollouts(session, actor=actor, limit=limit,
                                               offset=offset)])


@router.get("/rollouts/{rollout_id}", response_model=RolloutPublic)
def get_rollout(rollout_id: int, session: SessionDep, actor: ActorDep) -> RolloutPublic:
    """The rollout with every device's wave, state, last stage, reason and times."""
    rollout = rollouts.get_rollout(session, rollout_id=rollout_id, actor=actor)
    return rollouts.rollout_public(session, rollout, detailed=True)


@router.post("/rollouts/{rollout_id}/halt", response_model=RolloutPublic)
def halt_rollout(rollout_id: int, session: SessionDep, actor: ActorDep,
                 now: NowDep) -> RolloutPublic:
    """Send no more waves (devices already sent finish their update); 409 unless running."""
    rollout = rollouts.halt(session, rollout_id=rollout_id, actor=actor, now=now)
    return rollouts.rollout_public(session, rollout, detailed=True)


@router.post("/rollouts/{rollout_id}/resume", response_model=RolloutPublic)
def resume_rollout(rollout_id: int, session: SessionDep, center: CenterDep, actor: ActorDep,
                   now: NowDep) -> RolloutPublic:
    """Go on with the remaining waves; the failures so far count as accepted. 409 unless
    halted."""
    rollout = rollouts.resume(session, rollout_id=rollout_id, actor=actor, now=now)
    resumed = rollouts.rollout_public(session, rollout, detailed=True)
    center.rollouts.nudge()
    return resumed


@router.get("/devices/versions", response_model=ItemList[VersionCount])
def device_versions(session: SessionDep, actor: ActorDep,
                    unit_id: int | None = None) -> ItemList[VersionCount]:
    """Active devices per agent version (with their units) inside your subtree, or below
    ``unit_id`` (404 outside it)."""
    if unit_id is not None:
        actor.require_unit(unit_id, what=f"unit {unit_id}")
    return ItemList.of(releases.version_counts(session, actor=actor, unit_id=unit_id))
