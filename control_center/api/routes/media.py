"""Audio uploads (validated, deduplicated, processed in a worker) and downloads by hash."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.api.presenters import media_public
from control_center.api.upload import OPENAPI_BODY, receive_upload
from control_center.core.actor import Actor
from control_center.core.downloads import disposition
from control_center.errors import InvalidInput, NotFound
from control_center.models import MediaAsset, MediaState
from control_center.schemas.common import ItemList
from control_center.schemas.content import MediaPublic, SpeechCreate, SpeechJobPublic
from control_center.services import media_store
from control_center.workers.runtime import Center
from control_center.workers.speech_jobs import SpeechJob

router = APIRouter(prefix="/media", tags=["media"])
public_router = APIRouter(prefix="/media", tags=["media"])

ShaPath = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lower-case hex")]
JobPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a speech job's id")]
_IMMUTABLE = "public, max-age=31536000, immutable"
WAIT_MAX_AUDIO_MS = 120_000
"""Clips up to this long are waited for (about a second of work per minute of audio)."""
WAIT_S = 20.0
"""The longest an upload request waits for its clip (a busy worker answers 202 instead)."""


@router.post(
    "", response_model=MediaPublic, status_code=201, openapi_extra=OPENAPI_BODY,
    responses={200: {"model": MediaPublic, "description": "already stored (same SHA-256)"},
               202: {"model": MediaPublic, "description": "stored, still processing"}},
)
async def upload_media(
    request: Request, response: Response, center: CenterDep, actor: ActorDep, now: NowDep,
    wait: Annotated[bool, Query(description="wait for short clips to be processed")] = True,
) -> MediaPublic:
    """Upload audio as multipart field ``file``; the media worker normalises and encodes it.

    201: processed and ready (clips up to 2 minutes, while the request waits at most 20 s);
    202: stored and still processing (poll ``GET /media/{sha256}/info``
    until ``state`` is ``ready`` or ``failed``); 200: the same file was uploaded before.
    Refused: 415 not audio; 422 corrupt, empty, too long, silent; 413 too large.
    """
    settings = center.settings
    sink, filename = await receive_upload(
        request, media_dir=settings.media_dir, max_bytes=settings.max_upload_bytes
    )
    future, body = await run_in_threadpool(_store, center, sink, filename, actor, now)
    return await _answer(center, response, future, body, wait)


@router.post("/speech", response_model=SpeechJobPublic, status_code=202)
def speech_media(
    data: SpeechCreate, request: Request, center: CenterDep, actor: ActorDep
) -> SpeechJobPublic:
    """Speak a text with the offline TTS (espeak-ng Vietnamese unless configured otherwise)
    as a job: 202 at once with ``status_url``; poll it until ``state`` is ``done`` (use its
    ``sha256`` in an audio bulletin) or ``failed``. Texts over 5,000 characters answer 422."""
    job = center.speech.submit(text=data.text, name=data.name or data.text[:60], actor=actor)
    return _job_public(center, request, job, asset=None)


@router.get("/speech/{job_id}", response_model=SpeechJobPublic)
def speech_job(
    job_id: JobPath, request: Request, session: SessionDep, center: CenterDep, actor: ActorDep
) -> SpeechJobPublic:
    """A speech job of the caller's: pending, done (with ``sha256`` and ``media``) or failed
    (with ``error``); another caller's or a forgotten job answers 404."""
    job = center.speech.get(job_id, actor=actor)
    asset = session.get(MediaAsset, job.sha256) if job.sha256 else None
    return _job_public(center, request, job, asset=asset)


def _job_public(
    center: Center, request: Request, job: SpeechJob, asset: MediaAsset | None
) -> SpeechJobPublic:
    state, error = job.state(asset)
    return SpeechJobPublic(
        id=job.id, state=state, created_at=job.created_at, sha256=job.sha256, error=error,
        status_url=request.url_for("speech_job", job_id=job.id).path,
        media=_public(center, asset) if asset is not None else None)


async def _answer(
    center: Center, response: Response, future: Future[None] | None, body: MediaPublic,
    wait: bool,
) -> MediaPublic:
    if future is None:
        response.status_code = 200
        return body
    if wait and body.duration_ms <= WAIT_MAX_AUDIO_MS:
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), WAIT_S)
        except TimeoutError:
            pass
        else:
            body = await run_in_threadpool(_reload, center, body.sha256)
    if body.state == MediaState.FAILED:
        raise InvalidInput(f"not a usable audio file: {body.error}")
    if body.state == MediaState.PROCESSING:
        response.status_code = 202
    return body


def _store(
    center: Center, sink: media_store.UploadSink, filename: str, actor: Actor, now: datetime
) -> tuple[Future[None] | None, MediaPublic]:
    """Store the upload and queue it when it needs processing (the job's future, or None)."""
    with center.sessions() as session:
        received = center.intake.receive(session, sink=sink, name=filename, actor=actor, now=now)
        return received.job, _public(center, media_store.get_asset(session,
                                                                    sha256=received.sha256))


def _reload(center: Center, sha256: str) -> MediaPublic:
    with center.sessions() as session:
        return _public(center, media_store.get_asset(session, sha256=sha256))


def _public(center: Center, asset: MediaAsset) -> MediaPublic:
    return media_public(asset, public_base_url=center.settings.public_base_url,
                        progress=center.media.progress(asset.sha256))


@router.get("", response_model=ItemList[MediaPublic])
def list_media(session: SessionDep, center: CenterDep, actor: ActorDep) -> ItemList[MediaPublic]:
    """Files uploaded by users of your subtree (all of them with the API token)."""
    return ItemList.of([_public(center, a)
                        for a in media_store.list_assets(session, actor=actor)])


@router.get("/{sha256}/info", response_model=MediaPublic)
def media_info(sha256: ShaPath, session: SessionDep, center: CenterDep) -> MediaPublic:
    """The asset with its processing ``state`` (and ``progress``), renditions and loudness."""
    return _public(center, media_store.get_asset(session, sha256=sha256))


@public_router.get("/{sha256}/waveform.png", response_class=FileResponse,
                   responses={200: {"content": {"image/png": {}}}})
def media_waveform(sha256: ShaPath, center: CenterDep) -> FileResponse:
    """A small picture of the normalised waveform (once the asset is ready)."""
    path = media_store.waveform_path(center.settings.media_dir, sha256)
    if not path.is_file():
        raise NotFound(f"media {sha256} has no waveform (unknown, or not processed yet)")
    return FileResponse(path, media_type="image/png", filename=f"{sha256}.png",
                        content_disposition_type="inline", headers={"Cache-Control": _IMMUTABLE})


@public_router.head("/{sha256}", response_class=FileResponse, include_in_schema=False)
@public_router.get(
    "/{sha256}", response_class=FileResponse,
    responses={200: {"content": {"audio/*": {}}}, 206: {"description": "a byte range"}},
)
def download_media(sha256: ShaPath, center: CenterDep) -> FileResponse:
    """Any stored file by its own hash: an original upload, a rendition or a kiosk bundle (no
    token: agents download by hash). Supports ``Range: bytes=...``. Sounds are ``inline``,
    anything else an ``attachment``; every file is ``nosniff`` and ``sandbox``-ed.

    The database session is closed before the file streams: hundreds of devices downloading
    at once must not each hold a pooled connection for the length of a transfer.
    """
    with center.read_sessions() as session:
        path, mime = media_store.stored_file(session, media_dir=center.settings.media_dir,
                                             sha256=sha256)
    shown = disposition(sha256, mime)
    return FileResponse(
        path, media_type=mime, filename=shown.filename, content_disposition_type=shown.kind,
        headers={"ETag": f'"{sha256}"', "Cache-Control": _IMMUTABLE},
    )
