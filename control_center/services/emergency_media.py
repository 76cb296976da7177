"""Audio for emergencies: an upload or typed text (spoken by the center's TTS), processed by
the media worker before anything is sent, so every device plays the same file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.errors import CenterError, FieldError
from control_center.models import MediaAsset, MediaState
from control_center.services import media_store
from control_center.services.media_intake import MediaIntake

MEDIA_WAIT_S = 120.0
TEXT_MAX = 20_000


def ready_media(
    session: Session, *, intake: MediaIntake, sink: media_store.UploadSink, name: str,
    actor: Actor, now: datetime, field: str,
) -> MediaAsset:
    """Store a finished upload (or synthesised speech) and wait until it is processed."""
    try:
        _, asset = intake.receive_and_wait(session, sink=sink, name=name, actor=actor, now=now,
                                           timeout_s=MEDIA_WAIT_S)
    except CenterError as exc:
        raise FieldError(field, str(exc), status_code=exc.status_code) from exc
    if asset.state == MediaState.PROCESSING:
        raise FieldError(field, "bản ghi âm đang được xử lý, thử lại sau ít phút / the "
                                "recording is still being processed: try again shortly")
    try:
        return media_store.require_ready(session, sha256=asset.sha256)
    except CenterError as exc:
        raise FieldError(field, str(exc), status_code=exc.status_code) from exc


def speech_media(
    session: Session, *, intake: MediaIntake, text: str, actor: Actor, now: datetime
) -> MediaAsset:
    """Speak ``text`` with the center's TTS (Vietnamese) and return the processed asset."""
    text = text.strip()
    if not text:
        raise FieldError("text", "Nhập nội dung cần đọc / type the text to speak")
    if len(text) > TEXT_MAX:
        raise FieldError("text", f"Nội dung quá dài (tối đa {TEXT_MAX} ký tự) / the text is "
                                 f"longer than {TEXT_MAX} characters")
    try:
        sink = intake.speech(text)
    except CenterError as exc:
        raise FieldError("text", str(exc), status_code=exc.status_code) from exc
    return ready_media(session, intake=intake, sink=sink, name=text[:60], actor=actor, now=now,
                       field="text")
