"""Audio for emergencies: an upload or typed text (spoken by the center's TTS), processed by
the media worker before anything is sent, so every device plays the same file."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from control_center.errors import CenterError
from control_center.models import MediaAsset
from control_center.services import audit, media_store
from control_center.services.broadcasts import FieldError

if TYPE_CHECKING:
    from control_center.runtime import Center

MEDIA_WAIT_S = 120.0
TEXT_MAX = 20_000


def ready_media(
    session: Session, *, center: Center, sink: media_store.UploadSink, name: str,
    actor: audit.Actor, now: datetime, field: str,
) -> MediaAsset:
    """Store a finished upload (or synthesised speech) and wait until it is processed."""
    settings = center.settings
    try:
        stored = media_store.store_upload(
            session, sink=sink, original_name=name, media_dir=settings.media_dir,
            config=center.media.config, actor=actor, now=now)
    except CenterError as exc:
        raise FieldError(field, str(exc), status_code=exc.status_code) from exc
    sha = stored.asset.sha256
    if stored.queued:
        try:
            center.media.submit(sha).result(timeout=MEDIA_WAIT_S)
        except TimeoutError as exc:
            raise FieldError(field, "bản ghi âm đang được xử lý, thử lại sau ít phút / the "
                                    "recording is still being processed: try again shortly"
                             ) from exc
    session.expire_all()
    try:
        return media_store.require_ready(session, sha256=sha)
    except CenterError as exc:
        raise FieldError(field, str(exc), status_code=exc.status_code) from exc


def speech_media(
    session: Session, *, center: Center, text: str, actor: audit.Actor, now: datetime
) -> MediaAsset:
    """Speak ``text`` with the center's TTS (Vietnamese) and return the processed asset."""
    text = text.strip()
    if not text:
        raise FieldError("text", "Nhập nội dung cần đọc / type the text to speak")
    if len(text) > TEXT_MAX:
        raise FieldError("text", f"Nội dung quá dài (tối đa {TEXT_MAX} ký tự) / the text is "
                                 f"longer than {TEXT_MAX} characters")
    try:
        sink = media_store.synthesize(text=text, engine=center.media.tts,
                                      media_dir=center.settings.media_dir,
                                      max_bytes=center.settings.max_upload_bytes)
    except CenterError as exc:
        raise FieldError("text", str(exc), status_code=exc.status_code) from exc
    return ready_media(session, center=center, sink=sink, name=text[:60], actor=actor, now=now,
                       field="text")
