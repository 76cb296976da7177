"""Live microphone sessions: create (step 1), start (step 2), audio chunks, stop, status.

Every route needs Permission.LIVE (``core.access.ROUTES``); an emergency-priority session
needs Permission.EMERGENCY as well. A session is visible when its target unit lies in the
caller's subtree (404 otherwise).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from control_center.api.audio_chunks import (
    OPENAPI_BODY,
    AudioAnswer,
    RecorderId,
    SeqQuery,
    checked_chunk,
    read_chunk,
)
from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.core.actor import Actor
from control_center.errors import Conflict, FieldError
from control_center.live import microphone
from control_center.live.mic_input import Fed
from control_center.models import LiveState, LiveStream
from control_center.schemas.common import InputModel, ItemList
from control_center.workers.runtime import Center
from protocol.base import Priority

router = APIRouter(prefix="/live/sessions", tags=["live"])

SessionPath = Annotated[str, Path(pattern=r"^[0-9a-f]{16,64}$",
                                  description="a live session's id (its stream id)")]


class LiveSessionCreate(InputModel):
    title: str = Field(min_length=1, max_length=microphone.TITLE_MAX)
    target_unit_id: int = Field(description="root of the subtree to speak to (inside yours)")
    priority: Priority = Field(default=Priority.PRIORITY, description="normal | priority | "
                               "emergency (interrupts whatever plays; needs the emergency "
                               "permission too)")
    source: str = Field(default="console", pattern=r"^(console|device)$",
                        description="where the audio comes from: console (the browser) or "
                                    "device (the microphone of source_device_id)")
    source_device_id: str | None = Field(
        default=None, min_length=1, max_length=63,
        description="with source=device: the active device (in your subtree) whose microphone "
                    "speaks; it is not sent the session's audio itself")
    delay_ms: int = Field(default=microphone.DEFAULT_DELAY_MS, ge=200, le=10_000,
                          description="playout delay: every speaker plays each sample this "
                                      "long after it was cut")


class LiveSessionPublic(BaseModel):
    id: str
    title: str
    priority: Priority
    state: LiveState = Field(description="prepared | live | ended")
    target_unit_id: int | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    delay_ms: int
    targeted: int = Field(description="devices told at start (before it: that would be)")
    playing: int = Field(description="devices playing the session now")
    started: int = Field(description="devices that started playing it")
    recording_sha256: str | None = Field(description="the recording kept as media (GET "
                                                     "/api/v1/media/{sha256}) once ended")
    audio_url: str
    source: str = Field(description="console | device")
    source_device_id: str | None = Field(description="the device whose microphone speaks "
                                                     "(source=device)")


def _public(session: SessionDep, row: LiveStream) -> LiveSessionPublic:
    counts = microphone.counts(session, row=row)
    return LiveSessionPublic(
        id=row.id, title=row.title, priority=row.priority, state=row.state,
        target_unit_id=row.target_unit_id, created_by=row.created_by, created_at=row.created_at,
        started_at=row.started_at, ended_at=row.ended_at, delay_ms=row.delay_ms,
        targeted=counts.targeted, playing=counts.playing, started=counts.started,
        recording_sha256=row.recording_sha256,
        audio_url=f"/api/v1/live/sessions/{row.id}/audio",
        source="device" if row.source_device_id else "console",
        source_device_id=row.source_device_id)


@router.post("", response_model=LiveSessionPublic, status_code=201)
def create_session(data: LiveSessionCreate, session: SessionDep, actor: ActorDep,
                   now: NowDep) -> LiveSessionPublic:
    """Step 1: a prepared session (nothing reaches a device yet); ``targeted`` says how many
    devices starting it would reach. 404: a unit or source device outside your subtree;
    422: a source device that is not active, or source and source_device_id not matching."""
    if (data.source == "device") != (data.source_device_id is not None):
        raise FieldError("source_device_id", "give source_device_id with source=device (and "
                                             "only then)")
    row = microphone.create_session(session, actor=actor, title=data.title,
                                    priority=data.priority, target_unit_id=data.target_unit_id,
                                    delay_ms=data.delay_ms, now=now,
                                    source_device_id=data.source_device_id)
    return _public(session, row)


@router.get("", response_model=ItemList[LiveSessionPublic])
def list_sessions(session: SessionDep, actor: ActorDep) -> ItemList[LiveSessionPublic]:
    """The newest 50 sessions aimed inside your subtree, newest first."""
    return ItemList.of([_public(session, r)
                        for r in microphone.list_sessions(session, actor=actor)])


@router.get("/{session_id}", response_model=LiveSessionPublic)
def get_session(session_id: SessionPath, session: SessionDep,
                actor: ActorDep) -> LiveSessionPublic:
    """State and counts (poll it for the live count of devices playing)."""
    return _public(session, microphone.get_session(session, actor=actor, stream_id=session_id))


@router.post("/{session_id}/start", response_model=LiveSessionPublic)
def start_session(session_id: SessionPath, session: SessionDep, center: CenterDep,
                  actor: ActorDep, now: NowDep) -> LiveSessionPublic:
    """Step 2, on air: every active device under the target gets a signed play_now of the
    stream (the source device, if any, its live_capture instead). 409: not prepared; 422: no
    active device, or a source device no longer active; 503: the broker is unreachable."""
    row, _, _ = microphone.start_session(session, desk=center.emergency, actor=actor,
                                         stream_id=session_id, now=now)
    return _public(session, row)


@router.post("/{session_id}/audio", response_model=AudioAnswer, openapi_extra=OPENAPI_BODY)
async def session_audio(
    session_id: SessionPath, request: Request, session: SessionDep, center: CenterDep,
    actor: ActorDep, seq: SeqQuery = None, recorder: RecorderId = "console",
) -> AudioAnswer:
    """One MediaRecorder chunk (audio/webm;codecs=opus, or Ogg/Opus) as the raw body, in
    order. A chunk sent twice is ignored; 409: a gap, or a session that is not live;
    413: over 1 MB; 422: no seq, an empty body, or audio ffmpeg cannot read."""
    data = await read_chunk(request, what="MediaRecorder chunks")
    return await run_in_threadpool(_feed, session, center, actor, session_id, seq, recorder,
                                   data)


def _feed(session: Session, center: Center, actor: Actor, session_id: str, seq: int | None,
          recorder: str, data: bytes) -> AudioAnswer:
    row = microphone.get_session(session, actor=actor, stream_id=session_id)
    number = checked_chunk(seq, data, what="MediaRecorder chunk")
    if row.state != LiveState.LIVE:
        center.microphones.close(row.id)
        raise Conflict(f"live session {session_id} is {row.state.value}: audio is taken only "
                       "while it is live (start it first)")
    fed = center.microphones.feed(row.id, recorder=recorder, seq=number, data=data)
    return AudioAnswer(seq=number, accepted=fed == Fed.FED)


@router.post("/{session_id}/stop", response_model=LiveSessionPublic)
def stop_session(session_id: SessionPath, session: SessionDep, center: CenterDep,
                 actor: ActorDep, now: NowDep) -> LiveSessionPublic:
    """End the session (devices finish the item) and keep its recording as media; stopping
    an ended session answers it as it is."""
    row = microphone.stop_session(session, desk=center.emergency, live=center.live,
                                  inputs=center.microphones, actor=actor,
                                  stream_id=session_id, now=now)
    return _public(session, row)
