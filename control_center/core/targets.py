"""Resolve broadcast targets (unit subtrees, groups, devices) to device ids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.errors import UnknownReference
from control_center.models import AdminUnit, Device, DeviceGroup, DeviceGroupMember, Schedule


@dataclass(frozen=True, slots=True)
class TargetSpec:
    unit_ids: tuple[int, ...] = ()
    group_ids: tuple[int, ...] = ()
    device_ids: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.unit_ids or self.group_ids or self.device_ids)


def descendant_unit_ids(session: Session, *, unit_ids: Iterable[int]) -> set[int]:
    """The given units and every unit below them, at any depth (recursive CTE)."""
    roots = list(set(unit_ids))
    if not roots:
        return set()
    tree = select(AdminUnit.id).where(AdminUnit.id.in_(roots)).cte("tree", recursive=True)
    tree = tree.union(select(AdminUnit.id).where(AdminUnit.parent_id == tree.c.id))
    return set(session.scalars(select(tree.c.id)))


def is_root_unit(session: Session, unit_id: int | None) -> bool:
    """Whether the unit exists and is at the top of a tree (its users act for the center)."""
    unit = session.get(AdminUnit, unit_id) if unit_id is not None else None
    return unit is not None and unit.parent_id is None


def ancestor_unit_ids(session: Session, *, unit_id: int) -> list[int]:
    """The unit and its ancestors, nearest first."""
    chain: list[int] = []
    current: int | None = unit_id
    while current is not None and current not in chain:
        chain.append(current)
        current = session.scalar(select(AdminUnit.parent_id).where(AdminUnit.id == current))
    return chain


def check_targets(session: Session, *, spec: TargetSpec) -> None:
    """Raise UnknownReference naming every unit, group or device that does not exist."""
    missing: list[str] = []
    if spec.unit_ids:
        found = set(session.scalars(select(AdminUnit.id).where(AdminUnit.id.in_(spec.unit_ids))))
        missing += [f"unit {u}" for u in spec.unit_ids if u not in found]
    if spec.group_ids:
        found = set(
            session.scalars(select(DeviceGroup.id).where(DeviceGroup.id.in_(spec.group_ids)))
        )
        missing += [f"group {g}" for g in spec.group_ids if g not in found]
    if spec.device_ids:
        found_dev = set(
            session.scalars(select(Device.id).where(Device.id.in_(spec.device_ids)))
        )
        missing += [f"device {d!r}" for d in spec.device_ids if d not in found_dev]
    if missing:
        raise UnknownReference(f"unknown target(s): {', '.join(missing)}")


def resolve_targets(session: Session, *, spec: TargetSpec, check: bool = True) -> set[str]:
    """Device ids covered by the union of unit subtrees, group members and devices."""
    if check:
        check_targets(session, spec=spec)
    devices: set[str] = set(spec.device_ids)
    if spec.unit_ids:
        units = descendant_unit_ids(session, unit_ids=spec.unit_ids)
        devices |= set(session.scalars(select(Device.id).where(Device.unit_id.in_(units))))
    if spec.group_ids:
        devices |= set(
            session.scalars(
                select(DeviceGroupMember.device_id).where(
                    DeviceGroupMember.group_id.in_(spec.group_ids)
                )
            )
        )
    return devices


def spec_of(schedule: Schedule) -> TargetSpec:
    """The targets stored for a schedule."""
    return TargetSpec(
        unit_ids=tuple(t.unit_id for t in schedule.targets if t.unit_id is not None),
        group_ids=tuple(t.group_id for t in schedule.targets if t.group_id is not None),
        device_ids=tuple(t.device_id for t in schedule.targets if t.device_id is not None),
    )


def schedule_devices(session: Session, *, schedules: Sequence[Schedule]) -> dict[int, set[str]]:
    """For each schedule, the devices it currently reaches: three queries for all of them
    (the unit subtrees, their devices, the groups' members), not two or three per schedule
    (every manifest sync resolves every active schedule)."""
    specs = {s.id: spec_of(s) for s in schedules}
    below = _descendants_by_root(session, roots={u for sp in specs.values() for u in sp.unit_ids})
    units = set().union(*below.values()) if below else set()
    by_unit: dict[int, set[str]] = {}
    ordered = sorted(units)
    for start in range(0, len(ordered), _IN_CHUNK):
        for device_id, unit_id in session.execute(select(Device.id, Device.unit_id).where(
                Device.unit_id.in_(ordered[start:start + _IN_CHUNK]))):
            by_unit.setdefault(unit_id, set()).add(device_id)
    groups = sorted({g for sp in specs.values() for g in sp.group_ids})
    by_group: dict[int, set[str]] = {}
    if groups:
        for group_id, device_id in session.execute(
                select(DeviceGroupMember.group_id, DeviceGroupMember.device_id)
                .where(DeviceGroupMember.group_id.in_(groups))):
            by_group.setdefault(group_id, set()).add(device_id)
    reach: dict[int, set[str]] = {}
    for schedule_id, spec in specs.items():
        devices = set(spec.device_ids)
        for root in spec.unit_ids:
            for unit in below.get(root, ()):
                devices |= by_unit.get(unit, set())
        for group in spec.group_ids:
            devices |= by_group.get(group, set())
        reach[schedule_id] = devices
    return reach


_IN_CHUNK = 500


def _descendants_by_root(session: Session, *, roots: set[int]) -> dict[int, set[int]]:
    """Each root unit -> itself and every unit below it, in one recursive query."""
    if not roots:
        return {}
    tree = (select(AdminUnit.id.label("root"), AdminUnit.id.label("id"))
            .where(AdminUnit.id.in_(sorted(roots))).cte("tree", recursive=True))
    tree = tree.union(select(tree.c.root, AdminUnit.id).where(AdminUnit.parent_id == tree.c.id))
    below: dict[int, set[int]] = {}
    for root, unit in session.execute(select(tree.c.root, tree.c.id)):
        below.setdefault(root, set()).add(unit)
    return below
