"""Which broker a device is on: the nearest assignment up its unit's ancestors, recorded at
registration, known to the router's map from the flush (and forgotten on rollback)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from control_center.broker.registry import MAIN
from control_center.core.actor import Actor
from control_center.models import AdminUnit
from control_center.services import brokers, fleet
from protocol.events import DeviceKind

NOW = datetime(2026, 9, 1, tzinfo=UTC)
SYSTEM = Actor(name="test")


def _unit(s: Session, code: str, parent: AdminUnit | None = None,
          broker: str | None = None) -> AdminUnit:
    unit = AdminUnit(code=code, name=code, level="x", parent_id=parent.id if parent else None,
                     created_at=NOW, broker=broker)
    s.add(unit)
    s.flush()
    return unit


def _add(s: Session, device_id: str, unit: AdminUnit) -> str:
    return fleet.add_device(s, device_id=device_id, name=device_id, kind=DeviceKind.SPEAKER,
                            unit_id=unit.id, lat=None, lon=None, actor=SYSTEM, now=NOW).broker


def test_the_nearest_assignment_up_the_tree(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        top = _unit(s, "T")
        north = _unit(s, "N", top, broker="north")
        commune = _unit(s, "N-1", _unit(s, "N-0", north))
        south = _unit(s, "S", top)
        back = _unit(s, "N-2", north, broker=MAIN)  # a commune of the north back on main
        resolved = brokers.unit_brokers(s)
        assert resolved == {top.id: MAIN, north.id: "north", commune.id: "north",
                            commune.parent_id: "north", south.id: MAIN, back.id: MAIN}
        assert all(brokers.broker_for_unit(s, unit_id=u) == b for u, b in resolved.items())
        assert (_add(s, "loa-n", commune), _add(s, "loa-s", south)) == ("north", MAIN)
        brokers.assign_unit(s, unit=south, broker="north", known=(MAIN, "north"), actor=SYSTEM,
                            now=NOW)
    with sessions() as s:
        assert brokers.broker_loads(s) == {"north": brokers.BrokerLoad(1, 0),
                                           MAIN: brokers.BrokerLoad(1, 1)}  # loa-s waits
        assert brokers.device_brokers(s, ["loa-n"]) == {"loa-n": "north"}


def test_the_map_knows_a_flushed_device_and_forgets_a_rollback(
    sessions: sessionmaker[Session],
) -> None:
    devices = brokers.broker_map(sessions, max_age_s=3600)
    brokers.note_flushed_devices(sessions, devices)
    with sessions.begin() as s:
        east = _unit(s, "E", broker="east")
    assert devices.brokers_of(["loa-e1"]) == {"loa-e1": MAIN}  # first load: unknown yet
    with sessions() as s:
        _add(s, "loa-e1", east)  # flushed, not committed: as while its account is created
        assert devices.brokers_of(["loa-e1"]) == {"loa-e1": "east"}
        s.rollback()
    assert devices.brokers_of(["loa-e1"]) == {"loa-e1": MAIN}  # asked again: not there
    with sessions.begin() as s:
        _add(s, "loa-e2", east)
    other = brokers.broker_map(sessions, max_age_s=3600)  # another process of the center
    assert other.brokers_of(["loa-e2", "loa-e3"]) == {"loa-e2": "east", "loa-e3": MAIN}
