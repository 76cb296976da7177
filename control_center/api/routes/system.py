"""Unauthenticated endpoints: the center's clock and its health."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.api.deps import CenterDep, NowDep
from control_center.schemas.records import (
    BrokerHealth,
    ClusterHealth,
    HealthPublic,
    MqttHealth,
    TimePublic,
)

router = APIRouter(tags=["system"])
health_router = APIRouter(tags=["system"])


@router.get("/time", response_model=TimePublic)
def get_time(now: NowDep) -> TimePublic:
    """The center's UTC clock; agents measure their offset against it."""
    return TimePublic(now=now, epoch_ms=int(now.timestamp() * 1000))


@health_router.get("/healthz", response_model=HealthPublic)
def healthz(center: CenterDep) -> HealthPublic:
    """Liveness plus the broker connection state ("degraded" while the broker is away, or
    while received messages wait to be stored)."""
    bridge = center.bridge
    letters = center.receiver.letters
    return HealthPublic(
        status="ok" if bridge.all_connected and not letters.backlog else "degraded",
        mqtt=MqttHealth(
            connected=bridge.all_connected, state=bridge.state, last_error=bridge.last_error,
            ingest=dict(center.ingestor.snapshot()), backlog=letters.backlog,
            held=letters.held,
            brokers=[BrokerHealth(name=b.name, connected=b.connected, state=b.state,
                                  last_error=b.last_error) for b in bridge.statuses()],
        ),
        cluster=ClusterHealth(seat=center.seat, roles=sorted(center.elector.running()),
                              drained={str(k): v for k, v in center.elector.drained.items()}),
    )
