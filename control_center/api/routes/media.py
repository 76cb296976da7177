"""Audio uploads (validated, deduplicated by SHA-256) and downloads by hash with Range."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.api.presenters import media_public
from control_center.api.upload import OPENAPI_BODY, receive_upload
from control_center.errors import NotFound
from control_center.runtime import Center
from control_center.schemas.common import ItemList
from control_center.schemas.content import MediaPublic
from control_center.services import media_store
from control_center.services.audit import Actor

router = APIRouter(prefix="/media", tags=["media"])
public_router = APIRouter(prefix="/media", tags=["media"])

ShaPath = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lower-case hex")]


@router.post(
    "", response_model=MediaPublic, status_code=201, openapi_extra=OPENAPI_BODY,
    responses={200: {"model": MediaPublic, "description": "already stored (same SHA-256)"}},
)
async def upload_media(
    request: Request, response: Response, center: CenterDep, actor: ActorDep, now: NowDep
) -> MediaPublic:
    """Upload audio as multipart field ``file``: 201 when new, 200 when already stored."""
    settings = center.settings
    sink, filename = await receive_upload(
        request, media_dir=settings.media_dir, max_bytes=settings.max_upload_bytes
    )
    stored = await run_in_threadpool(_store, center, sink, filename, actor, now)
    if not stored.created:
        response.status_code = 200
    return media_public(stored.asset, public_base_url=settings.public_base_url)


def _store(
    center: Center, sink: media_store.UploadSink, filename: str, actor: Actor, now: object
) -> media_store.StoredMedia:
    with center.sessions() as session:
        return media_store.store_upload(
            session, sink=sink, original_name=filename, media_dir=center.settings.media_dir,
            actor=actor, now=now,  # type: ignore[arg-type]
        )


@router.get("", response_model=ItemList[MediaPublic])
def list_media(session: SessionDep, center: CenterDep) -> ItemList[MediaPublic]:
    base = center.settings.public_base_url
    assets = media_store.list_assets(session)
    return ItemList.of([media_public(a, public_base_url=base) for a in assets])


@router.get("/{sha256}/info", response_model=MediaPublic)
def media_info(sha256: ShaPath, session: SessionDep, center: CenterDep) -> MediaPublic:
    asset = media_store.get_asset(session, sha256=sha256)
    return media_public(asset, public_base_url=center.settings.public_base_url)


@public_router.head("/{sha256}", response_class=FileResponse, include_in_schema=False)
@public_router.get(
    "/{sha256}", response_class=FileResponse,
    responses={200: {"content": {"audio/*": {}}}, 206: {"description": "a byte range"}},
)
def download_media(sha256: ShaPath, center: CenterDep) -> FileResponse:
    """The file itself (no token: agents download by hash). Supports ``Range: bytes=...``.

    The database session is closed before the file streams: hundreds of devices downloading
    at once must not each hold a pooled connection for the length of a transfer.
    """
    with center.read_sessions() as session:
        asset = media_store.get_asset(session, sha256=sha256)
    path = media_store.media_path(center.settings.media_dir, sha256)
    if not path.is_file():
        raise NotFound(f"media {sha256} is registered but its file is missing on the center")
    return FileResponse(
        path, media_type=asset.mime,
        headers={"ETag": f'"{sha256}"', "Cache-Control": "public, max-age=31536000, immutable"},
    )
