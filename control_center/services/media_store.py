"""Content-addressed audio storage: stream to a temp file while hashing, probe, dedupe, move."""

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

from control_center.errors import (
    InvalidInput,
    MediaToolMissing,
    NotFound,
    PayloadTooLarge,
    UnsupportedMedia,
)
from control_center.models import MediaAsset
from control_center.services import audit
from media import AudioInfo, MediaError, NotAudio, ToolMissing, probe_audio

log = logging.getLogger(__name__)


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

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class StoredMedia:
    asset: MediaAsset
    created: bool


def store_upload(
    session: Session, *, sink: UploadSink, original_name: str, media_dir: Path,
    actor: audit.Actor, now: datetime,
) -> StoredMedia:
    """Validate the finished upload and keep it as ``<media_dir>/<sha256>`` (once)."""
    try:
        sha = sink.finish()
        if sink.size == 0:
            raise InvalidInput("the uploaded file is empty")
        existing = session.get(MediaAsset, sha)
        if existing is not None:
            return StoredMedia(existing, False)
        info = _probe(sink.path)
        os.replace(sink.path, media_dir / sha)
    finally:
        sink.discard()
    asset = MediaAsset(
        sha256=sha, size=sink.size, mime=info.mime, duration_ms=info.duration_ms,
        codec=info.codec, original_name=original_name[:255], created_at=now,
    )
    session.add(asset)
    audit.record(session, actor=actor, action="upload", object_type="media", object_id=sha,
                 detail={"name": original_name[:255], "size": sink.size,
                         "duration_ms": info.duration_ms, "codec": info.codec}, at=now)
    try:
        session.commit()
    except IntegrityError:  # the same file uploaded concurrently
        session.rollback()
        return StoredMedia(get_asset(session, sha256=sha), False)
    log.info("media: stored %s (%d bytes, %d ms, %s)", sha, sink.size, info.duration_ms,
             info.codec)
    return StoredMedia(asset, True)


def _probe(path: Path) -> AudioInfo:
    try:
        return probe_audio(path)
    except ToolMissing as exc:
        raise MediaToolMissing(str(exc)) from exc
    except NotAudio as exc:
        raise UnsupportedMedia(f"not an audio file: {exc}") from exc
    except MediaError as exc:
        raise InvalidInput(f"not a usable audio file: {exc}") from exc


def get_asset(session: Session, *, sha256: str) -> MediaAsset:
    asset = session.get(MediaAsset, sha256)
    if asset is None:
        raise NotFound(f"media {sha256} does not exist (upload it first with POST /api/v1/media)")
    return asset


def list_assets(session: Session, *, limit: int = 500, offset: int = 0) -> list[MediaAsset]:
    query = select(MediaAsset).order_by(MediaAsset.created_at.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def media_path(media_dir: Path, sha256: str) -> Path:
    return media_dir / sha256
