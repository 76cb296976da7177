"""Turn SQL rows into public schemas (the few that need more than ``from_attributes``)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session

from control_center.core.targets import resolve_targets, spec_of
from control_center.models import (
    AuditEntry,
    DeviceEventRecord,
    DeviceGroup,
    MediaAsset,
    MediaState,
    Schedule,
)
from control_center.schemas.common import DeliveryReport
from control_center.schemas.content import (
    MediaPublic,
    RenditionPublic,
    SchedulePublic,
    Targets,
)
from control_center.schemas.fleet import GroupPublic
from control_center.schemas.records import AuditPublic, EventPublic
from control_center.services.manifests import media_url
from control_center.services.schedule_timing import upcoming
from control_center.workers.manifest_sync import SyncReport


def delivery(report: SyncReport) -> DeliveryReport:
    return DeliveryReport(
        devices=report.devices, changed=len(report.changed), published=len(report.published),
        pending=len(report.pending), pending_ids=list(report.pending[:50]),
    )


def media_public(
    asset: MediaAsset, *, public_base_url: str, progress: float | None = None
) -> MediaPublic:
    renditions = [
        RenditionPublic(
            format=r.format, sha256=r.sha256, size=r.size, mime=r.mime, codec=r.codec,
            bitrate=r.bitrate, duration_ms=r.duration_ms, loudness_lufs=r.loudness_lufs,
            true_peak_dbtp=r.true_peak_dbtp, url=media_url(public_base_url, r.sha256),
        )
        for r in asset.renditions
    ]
    ready = asset.state == MediaState.READY
    return MediaPublic(
        sha256=asset.sha256, size=asset.size, mime=asset.mime, duration_ms=asset.duration_ms,
        codec=asset.codec, original_name=asset.original_name, created_at=asset.created_at,
        url=media_url(public_base_url, asset.sha256), state=asset.state, error=asset.error,
        progress=progress if asset.state == MediaState.PROCESSING else None,
        source_lufs=asset.source_lufs, renditions=renditions,
        delivery=next((r for r in renditions if r.format == "opus"), None),
        waveform_url=f"{media_url(public_base_url, asset.sha256)}/waveform.png"
        if ready and renditions else None,
    )


def group_public(group: DeviceGroup) -> GroupPublic:
    return GroupPublic(id=group.id, name=group.name, created_at=group.created_at,
                       device_ids=[m.device_id for m in group.members])


def schedule_public(
    session: Session, schedule: Schedule, *, now: datetime, detailed: bool = False,
    report: SyncReport | None = None,
) -> SchedulePublic:
    spec = spec_of(schedule)
    return SchedulePublic(
        id=schedule.id, bulletin_id=schedule.bulletin_id, kind=schedule.kind,
        start_at=schedule.start_at, rrule=schedule.rrule, valid_from=schedule.valid_from,
        valid_until=schedule.valid_until, timezone=schedule.timezone,
        revision=schedule.revision, cancelled_at=schedule.cancelled_at,
        created_at=schedule.created_at, updated_at=schedule.updated_at,
        targets=Targets(unit_ids=list(spec.unit_ids), group_ids=list(spec.group_ids),
                        device_ids=list(spec.device_ids)),
        device_ids=sorted(resolve_targets(session, spec=spec, check=False)),
        next_instants=upcoming(schedule, now=now) if detailed else None,
        delivery=delivery(report) if report is not None else None,
    )


def event_public(record: DeviceEventRecord) -> EventPublic:
    return EventPublic(
        event_id=record.event_id, device_id=record.device_id, type=record.type, at=record.at,
        received_at=record.received_at, payload=json.loads(record.payload),
    )


def audit_public(entry: AuditEntry) -> AuditPublic:
    return AuditPublic(
        id=entry.id, at=entry.at, actor=entry.actor, source_ip=entry.source_ip,
        action=entry.action, object_type=entry.object_type, object_id=entry.object_id,
        detail=json.loads(entry.detail or "{}"), unit_id=entry.unit_id, flagged=entry.flagged,
    )
