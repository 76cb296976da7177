"""Read-only records: plays, device events, audit entries, time and health."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from control_center.models import PlayStatus
from control_center.schemas.common import OutputModel
from protocol.base import Priority


class PlayPublic(OutputModel):
    id: int
    device_id: str
    item_id: str
    schedule_id: int | None
    bulletin_id: int | None
    priority: Priority
    scheduled_at: datetime
    status: PlayStatus
    started_at: datetime | None
    ended_at: datetime | None
    reason: str | None
    heard_ms: int | None = Field(default=None, description="live items: milliseconds of the "
                                 "source the device played (filler and silence not counted)")


class EventPublic(BaseModel):
    event_id: str
    device_id: str
    type: str
    at: datetime
    received_at: datetime
    payload: dict[str, object]


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    source_ip: str | None
    action: str
    object_type: str
    object_id: str
    detail: dict[str, object]
    unit_id: int | None = Field(description="the acting user's unit (null: the system token)")
    flagged: bool = Field(description="an action that needs a look (emergency without "
                          "approval, a refused or emergency-priority command, a lockout)")


class TimePublic(BaseModel):
    """The center's clock, for agents measuring their offset."""

    now: datetime
    epoch_ms: int


class MqttHealth(BaseModel):
    connected: bool
    state: str
    last_error: str
    ingest: dict[str, int]
    backlog: int = Field(description="messages acknowledged but not stored yet (dead letters "
                         "and spooled ones waiting for a replay)")
    held: int = Field(description="dead letters whose handling kept failing: kept in "
                      "ingest_dead_letters for a person, no longer replayed")
    brokers: list[BrokerHealth] = Field(default_factory=list, description=(
        "each broker's connection; the fields above sum them up (connected: every one)"))


class ClusterHealth(BaseModel):
    seat: int | None = Field(description="this process's ingest seat (null: a lone center)")
    roles: list[str] = Field(description="the singleton roles this process runs")
    drained: dict[str, int] = Field(description="per seat: messages this process took from "
                                    "the session of a center process that died")


class BrokerHealth(BaseModel):
    name: str = Field(description='"main" or a broker of TT_BROKERS_FILE')
    connected: bool
    state: str
    last_error: str


class HealthPublic(BaseModel):
    status: str
    mqtt: MqttHealth
    cluster: ClusterHealth
