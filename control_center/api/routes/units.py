"""Administrative units (any depth) and the devices below them."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.errors import FieldError
from control_center.schemas.common import ItemList
from control_center.schemas.fleet import DevicePublic, UnitCreate, UnitPublic, UnitUpdate
from control_center.services import broker_moves, fleet, units

router = APIRouter(prefix="/units", tags=["units"])


@router.post("", response_model=UnitPublic, status_code=201)
def create_unit(data: UnitCreate, session: SessionDep, actor: ActorDep, now: NowDep) -> UnitPublic:
    """Administrators add units below their own (the system token anywhere); a retired unit
    takes no new units (409)."""
    unit = units.create_unit(session, code=data.code, name=data.name, level=data.level,
                             parent_id=data.parent_id, actor=actor, now=now)
    return UnitPublic.model_validate(unit)


@router.get("", response_model=ItemList[UnitPublic])
def list_units(
    session: SessionDep, actor: ActorDep, parent_id: int | None = None
) -> ItemList[UnitPublic]:
    """Units inside your subtree."""
    found = fleet.list_units(session, parent_id=parent_id)
    return ItemList.of([UnitPublic.model_validate(u) for u in found if actor.covers(u.id)])


@router.get("/{unit_id}", response_model=UnitPublic)
def get_unit(unit_id: int, session: SessionDep, actor: ActorDep) -> UnitPublic:
    return UnitPublic.model_validate(units.visible_unit(session, unit_id=unit_id, actor=actor))


@router.patch("/{unit_id}", response_model=UnitPublic)
def update_unit(
    unit_id: int, data: UnitUpdate, session: SessionDep, actor: ActorDep, now: NowDep,
    center: CenterDep,
) -> UnitPublic:
    """Rename, recode or move a unit of your subtree, or name the broker of the devices below
    it (fields left out are kept; a broker not configured is refused, 422 naming the known):
    its enrolled devices on another broker are sent a signed ``move_broker`` command."""
    fields = data.model_fields_set
    known = center.brokers.registry.names
    if "broker" in fields and data.broker is not None and data.broker not in known:
        units.visible_unit(session, unit_id=unit_id, actor=actor)  # 404 first
        raise FieldError("broker", f"unknown broker {data.broker!r}; known: "
                         f"{', '.join(known)} (configured by TT_BROKERS_FILE)")
    parent = units.NewParent(data.parent_id) if "parent_id" in fields else None
    unit = units.update_unit(session, unit_id=unit_id, name=data.name, code=data.code,
                             parent=parent, actor=actor, now=now)
    if "broker" in fields:  # assigning the same broker again retries the waiting moves
        broker_moves.assign_and_move(
            session, unit=unit, broker=data.broker, registry=center.brokers.registry,
            accounts=center.brokers.accounts, signer=center.signer, bridge=center.bridge,
            actor=actor, now=now, timeout_s=center.settings.publish_timeout_s)
    return UnitPublic.model_validate(unit)


@router.post("/{unit_id}/retire", response_model=UnitPublic)
def retire_unit(unit_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> UnitPublic:
    """Retire a unit without active devices or sub-units in service (409 naming the counts)."""
    return UnitPublic.model_validate(units.retire_unit(session, unit_id=unit_id, actor=actor,
                                                       now=now))


@router.get("/{unit_id}/devices", response_model=ItemList[DevicePublic])
def unit_devices(
    unit_id: int, session: SessionDep, actor: ActorDep, recursive: bool = True
) -> ItemList[DevicePublic]:
    """Devices of the unit, and of every unit below it unless ``recursive=false``."""
    actor.require_unit(unit_id, what=f"unit {unit_id}")
    devices = fleet.list_devices(session, unit_id=unit_id, recursive=recursive)
    return ItemList.of([DevicePublic.model_validate(d) for d in devices])
