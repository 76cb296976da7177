"""Content-addressed audio storage: stream to a temp file while hashing, validate, dedupe, move.

Every stored file (an original upload or a rendition) is ``<media_dir>/<its sha256>``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.bundles import BUNDLE_MIME, is_bundle
from control_center.errors import (
    CenterError,
    InvalidInput,
    MediaToolMissing,
    NotFound,
    PayloadTooLarge,
    UnknownReference,
    UnsupportedMedia,
)
from control_center.models import AuditEntry, MediaAsset, MediaRendition, MediaState
from media import (
    AudioInfo,
    MediaError,
    NotAudio,
    PipelineConfig,
    SpeechFailed,
    ToolMissing,
    TooLong,
)
from media.pipeline import validate
from media.tts import TtsEngine, speak

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


class UploadSink:
    """Receives an upload chunk by chunk: writes a temp file, hashes, enforces the size cap."""

    def __init__(self, *, media_dir: Path, max_bytes: int) -> None:
        self._max = max_bytes
        tmp_dir = media_dir / ".incoming"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._max:
            self.discard()
            raise PayloadTooLarge(
                f"the upload exceeds the limit of {self._max // (1024 * 1024)} MB "
                "(TT_MAX_UPLOAD_BYTES)"
            )
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> str:
        """Flush to disk; return the SHA-256 hex digest."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._hash.hexdigest()

    def copy_from(self, path: Path) -> None:
        """Feed a file made on the center (synthesised speech) through the sink."""
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                self.write(chunk)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class StoredMedia:
    """The asset for an upload; ``queued`` when it (re)enters processing."""

    asset: MediaAsset
    created: bool
    queued: bool


def store_upload(
    session: Session, *, sink: UploadSink, original_name: str, media_dir: Path,
    config: PipelineConfig, actor: Actor, now: datetime,
) -> StoredMedia:
    """Validate the finished upload, keep it as ``<media_dir>/<sha256>`` and mark it processing.

    The same bytes uploaded again give the same asset; an asset whose processing failed is
    queued again (the failure may have been the center's, e.g. a missing tool).
    """
    try:
        sha = sink.finish()
        if sink.size == 0:
            raise InvalidInput("the uploaded file is empty")
        existing = session.get(MediaAsset, sha)
        if existing is not None and existing.state != MediaState.FAILED:
            return StoredMedia(existing, False, False)
        info = _validate(sink.path, config)
        os.replace(sink.path, media_dir / sha)
    finally:
        sink.discard()
    if existing is not None:
        existing.state, existing.error, existing.processed_at = MediaState.PROCESSING, None, None
        audit.record(session, actor=actor, action="reprocess", object_type="media",
                     object_id=sha, detail={"name": original_name[:255]}, at=now)
        session.commit()
        return StoredMedia(existing, False, True)
    asset = MediaAsset(
        sha256=sha, size=sink.size, mime=info.mime, duration_ms=info.duration_ms,
        codec=info.codec, original_name=original_name[:255], created_at=now,
        state=MediaState.PROCESSING,
    )
    session.add(asset)
    audit.record(session, actor=actor, action="upload", object_type="media", object_id=sha,
                 detail={"name": original_name[:255], "size": sink.size,
                         "duration_ms": info.duration_ms, "codec": info.codec}, at=now)
    try:
        session.commit()
    except IntegrityError:  # the same file uploaded concurrently
        session.rollback()
        return StoredMedia(get_asset(session, sha256=sha), False, False)
    log.info("media: stored %s (%d bytes, %d ms, %s); processing", sha, sink.size,
             info.duration_ms, info.codec)
    return StoredMedia(asset, True, True)


def _validate(path: Path, config: PipelineConfig) -> AudioInfo:
    try:
        return validate(path, config)
    except MediaError as exc:
        raise convert_error(exc) from exc


def convert_error(exc: MediaError) -> CenterError:
    """The API error for a media failure (tool missing 503, not audio 415, else 422)."""
    if isinstance(exc, ToolMissing):
        return MediaToolMissing(str(exc))
    if isinstance(exc, NotAudio):
        return UnsupportedMedia(f"not an audio file: {exc}")
    if isinstance(exc, TooLong):
        return InvalidInput(f"too long: {exc}")
    if isinstance(exc, SpeechFailed):
        return InvalidInput(f"text to speech failed: {exc}")
    return InvalidInput(f"not a usable audio file: {exc}")


def get_asset(session: Session, *, sha256: str) -> MediaAsset:
    asset = session.get(MediaAsset, sha256)
    if asset is None:
        raise NotFound(f"media {sha256} does not exist (upload it first with POST /api/v1/media)")
    return asset


def require_ready(session: Session, *, sha256: str) -> MediaAsset:
    """The asset, if a bulletin may use it now; else a 422 saying what to do."""
    asset = session.get(MediaAsset, sha256)
    if asset is None:
        raise UnknownReference(f"media {sha256} does not exist: upload it first")
    if asset.state == MediaState.PROCESSING:
        raise InvalidInput(
            f"media {sha256} is still being processed: wait until GET /api/v1/media/{sha256}"
            "/info says state=ready, then try again")
    if asset.state == MediaState.FAILED:
        raise InvalidInput(f"media {sha256} could not be processed ({asset.error}): "
                           "upload a usable recording instead")
    return asset


def list_assets(session: Session, *, actor: Actor | None = None, limit: int = 500,
                offset: int = 0) -> list[MediaAsset]:
    """The library, newest first; with a signed-in ``actor``, only what users of the actor's
    subtree uploaded (the audit log keeps each upload's unit; a file's hash still opens it)."""
    query = select(MediaAsset).order_by(MediaAsset.created_at.desc()).limit(limit).offset(offset)
    if actor is not None and actor.scope is not None:
        uploaded_here = select(AuditEntry.object_id).where(
            AuditEntry.object_type == "media", AuditEntry.action.in_(("upload", "reprocess")),
            AuditEntry.unit_id.in_(actor.scope))
        query = query.where(MediaAsset.sha256.in_(uploaded_here))
    return list(session.scalars(query))


def stored_file(session: Session, *, media_dir: Path, sha256: str) -> tuple[Path, str]:
    """The file named ``sha256`` (an original or a rendition) and its MIME type."""
    asset = session.get(MediaAsset, sha256)
    if asset is not None:
        mime = asset.mime
    else:
        rendition = session.scalars(
            select(MediaRendition).where(MediaRendition.sha256 == sha256).limit(1)
        ).first()
        if rendition is not None:
            mime = rendition.mime
        elif is_bundle(session, sha256=sha256):
            mime = BUNDLE_MIME  # a training bundle for kiosks (control_center.core.bundles)
        else:
            raise NotFound(f"media {sha256} does not exist")
    path = media_path(media_dir, sha256)
    if not path.is_file():
        state = f" ({asset.state}: {asset.error})" if asset and asset.error else ""
        raise NotFound(f"media {sha256} is registered but its file is missing on the center"
                       + state)
    return path, mime


def media_path(media_dir: Path, sha256: str) -> Path:
    return media_dir / sha256


def waveform_path(media_dir: Path, sha256: str) -> Path:
    return media_dir / "waveforms" / f"{sha256}.png"


def synthesize(
    *, text: str, engine: TtsEngine, media_dir: Path, max_bytes: int
) -> UploadSink:
    """Speak ``text`` (normalised Vietnamese) into a sink, ready for ``store_upload``."""
    sink = UploadSink(media_dir=media_dir, max_bytes=max_bytes)
    wav = sink.path.with_name(sink.path.name + ".wav")
    try:
        speak(text, wav, engine=engine)
        sink.copy_from(wav)
    except MediaError as exc:
        sink.discard()
        raise convert_error(exc) from exc
    except BaseException:
        sink.discard()
        raise
    finally:
        wav.unlink(missing_ok=True)
    return sink
