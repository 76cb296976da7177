"""SQLAlchemy 2 models (kept apart from the pydantic API schemas in ``schemas``)."""

from control_center.models.base import Base, UtcDateTime
from control_center.models.content import (
    Bulletin,
    BulletinKind,
    MediaAsset,
    MediaRendition,
    MediaState,
    Schedule,
    ScheduleKind,
    ScheduleTarget,
)
from control_center.models.feedback import (
    Feedback,
    FeedbackCategoryRow,
    FeedbackNote,
    FeedbackStatus,
)
from control_center.models.fleet import AdminUnit, Device, DeviceGroup, DeviceGroupMember
from control_center.models.monitoring import (
    Alert,
    AlertKind,
    AlertState,
    DeviceHealth,
    DeviceStatusChange,
    PresenceCause,
)
from control_center.models.records import (
    AuditEntry,
    DeviceEventRecord,
    ManifestState,
    PlayLog,
    PlayStatus,
)

__all__ = [
    "AdminUnit",
    "Alert",
    "AlertKind",
    "AlertState",
    "AuditEntry",
    "Base",
    "Bulletin",
    "BulletinKind",
    "Device",
    "DeviceEventRecord",
    "DeviceGroup",
    "DeviceGroupMember",
    "DeviceHealth",
    "DeviceStatusChange",
    "Feedback",
    "FeedbackCategoryRow",
    "FeedbackNote",
    "FeedbackStatus",
    "ManifestState",
    "MediaAsset",
    "MediaRendition",
    "MediaState",
    "PlayLog",
    "PlayStatus",
    "PresenceCause",
    "Schedule",
    "ScheduleKind",
    "ScheduleTarget",
    "UtcDateTime",
]
