"""Target resolution over unit subtrees (any depth), groups and single devices."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from control_center.core.targets import (
    TargetSpec,
    ancestor_unit_ids,
    descendant_unit_ids,
    resolve_targets,
)
from control_center.errors import UnknownReference
from control_center.models import AdminUnit, Device, DeviceGroup, DeviceGroupMember
from protocol.events import DeviceKind

NOW = datetime(2026, 9, 1, tzinfo=UTC)


def _unit(s: Session, code: str, level: str, parent: AdminUnit | None = None) -> AdminUnit:
    unit = AdminUnit(code=code, name=code, level=level, parent_id=parent.id if parent else None,
                     created_at=NOW)
    s.add(unit)
    s.flush()
    return unit


def _device(s: Session, device_id: str, unit: AdminUnit) -> None:
    s.add(Device(id=device_id, name=device_id, kind=DeviceKind.SPEAKER, unit_id=unit.id,
                 mqtt_password_hash="x", online=False, agent_version="", created_at=NOW))


def test_four_level_tree(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        central = _unit(s, "VN", "central")
        province = _unit(s, "HN", "province", central)
        district = _unit(s, "HN-BD", "district", province)
        commune_a = _unit(s, "HN-BD-01", "commune", district)
        commune_b = _unit(s, "HN-BD-02", "commune", district)
        other = _unit(s, "HCM", "province", central)
        _device(s, "loa-a1", commune_a)
        _device(s, "loa-a2", commune_a)
        _device(s, "loa-b1", commune_b)
        _device(s, "loa-d", district)
        _device(s, "loa-hcm", other)
        s.flush()
        assert descendant_unit_ids(s, unit_ids=[province.id]) == {
            province.id, district.id, commune_a.id, commune_b.id
        }
        assert ancestor_unit_ids(s, unit_id=commune_b.id) == [
            commune_b.id, district.id, province.id, central.id
        ]
        assert resolve_targets(s, spec=TargetSpec(unit_ids=(central.id,))) == {
            "loa-a1", "loa-a2", "loa-b1", "loa-d", "loa-hcm"
        }
        assert resolve_targets(s, spec=TargetSpec(unit_ids=(district.id,))) == {
            "loa-a1", "loa-a2", "loa-b1", "loa-d"
        }
        assert resolve_targets(s, spec=TargetSpec(unit_ids=(commune_a.id, other.id))) == {
            "loa-a1", "loa-a2", "loa-hcm"
        }


def test_two_level_tree_with_groups_and_devices(sessions: sessionmaker[Session]) -> None:
    # Since 2025 the administrative reform leaves two tiers: province and commune.
    with sessions.begin() as s:
        province = _unit(s, "QN", "province")
        commune_1 = _unit(s, "QN-01", "commune", province)
        commune_2 = _unit(s, "QN-02", "commune", province)
        _device(s, "k-1", commune_1)
        _device(s, "k-2", commune_2)
        _device(s, "k-3", commune_2)
        s.flush()
        group = DeviceGroup(name="chợ", created_at=NOW,
                            members=[DeviceGroupMember(device_id="k-3")])
        s.add(group)
        s.flush()
        assert descendant_unit_ids(s, unit_ids=[province.id]) == {
            province.id, commune_1.id, commune_2.id
        }
        spec = TargetSpec(unit_ids=(commune_1.id,), group_ids=(group.id,), device_ids=("k-1",))
        assert resolve_targets(s, spec=spec) == {"k-1", "k-3"}
        assert resolve_targets(s, spec=TargetSpec(unit_ids=(province.id,))) == {
            "k-1", "k-2", "k-3"
        }


def test_unknown_targets_are_named(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s, pytest.raises(UnknownReference) as info:
        resolve_targets(s, spec=TargetSpec(unit_ids=(404,), group_ids=(7,), device_ids=("ghost",)))
    assert str(info.value) == "unknown target(s): unit 404, group 7, device 'ghost'"
