"""The brokers the center connects to: configuration (TT_MQTT_*, TT_BROKERS_FILE), their load
and connection state. Which broker a unit's devices use is set on the unit (PATCH /units)."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.api.deps import CenterDep, SessionDep
from control_center.schemas.brokers import BrokerPublic
from control_center.schemas.common import ItemList
from control_center.services import brokers

router = APIRouter(prefix="/brokers", tags=["brokers"])


@router.get("", response_model=ItemList[BrokerPublic])
def list_brokers(session: SessionDep, center: CenterDep) -> ItemList[BrokerPublic]:
    """Every configured broker, ``main`` first; a name recorded on devices but no longer
    configured is listed too (state ``unconfigured``), so its devices are not lost from view."""
    loads = brokers.broker_loads(session)
    bridges = center.brokers.router.bridges
    items = []
    for config in center.brokers.registry:
        bridge = bridges[config.name]
        load = loads.pop(config.name, brokers.BrokerLoad(0, 0))
        items.append(BrokerPublic(name=config.name, device_url=config.device_url,
                                  devices=load.devices, waiting=load.waiting,
                                  connected=bridge.connected, state=bridge.state.value,
                                  last_error=bridge.last_error))
    for name, load in sorted(loads.items()):
        items.append(BrokerPublic(name=name, device_url="", devices=load.devices,
                                  waiting=load.waiting, connected=False, state="unconfigured",
                                  last_error="not in the center's configuration"))
    return ItemList.of(items)
