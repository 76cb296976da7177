"""SQLAlchemy 2 models (kept apart from the pydantic API schemas in ``schemas``)."""

from control_center.models.base import Base, UtcDateTime
from control_center.models.content import (
    Bulletin,
    BulletinKind,
    MediaAsset,
    Schedule,
    ScheduleKind,
    ScheduleTarget,
)
from control_center.models.fleet import AdminUnit, Device, DeviceGroup, DeviceGroupMember
from control_center.models.records import (
    AuditEntry,
    DeviceEventRecord,
    ManifestState,
    PlayLog,
    PlayStatus,
)

__all__ = [
    "AdminUnit",
    "AuditEntry",
    "Base",
    "Bulletin",
    "BulletinKind",
    "Device",
    "DeviceEventRecord",
    "DeviceGroup",
    "DeviceGroupMember",
    "ManifestState",
    "MediaAsset",
    "PlayLog",
    "PlayStatus",
    "Schedule",
    "ScheduleKind",
    "ScheduleTarget",
    "UtcDateTime",
]
