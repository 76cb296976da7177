"""With several brokers, one that lost its store costs a republish of its own devices only."""

from __future__ import annotations

from collections.abc import Iterable

from control_center.workers.republish import Republisher


class _Marks:
    """Records what the republisher asks ``ManifestSync.mark_unpublished`` to mark."""

    def __init__(self) -> None:
        self.calls: list[set[str] | None] = []

    def mark_unpublished(self, device_ids: Iterable[str] | None = None) -> int:
        self.calls.append(None if device_ids is None else set(device_ids))
        return 0


BROKERS = {"main": ["a1", "a2"], "b2": ["b1"]}


def test_a_broker_without_our_session_republishes_its_devices_only() -> None:
    woken: list[bool] = []
    republisher = Republisher(interval_s=60, wake=lambda: woken.append(True),
                              devices_on=lambda name: BROKERS[name])
    marks = _Marks()
    republisher.everything("b2")
    assert woken == [True]
    republisher.apply(marks)  # type: ignore[arg-type]
    assert marks.calls == [{"b1"}]
    republisher.everything()  # no broker named: everything, as with one broker
    republisher.apply(marks)  # type: ignore[arg-type]
    assert marks.calls == [{"b1"}, None]
    assert republisher.apply(marks) == 0 and len(marks.calls) == 2  # nothing left to do


def test_without_a_device_map_a_broker_means_everything() -> None:
    republisher = Republisher(interval_s=60, wake=lambda: None)
    marks = _Marks()
    republisher.everything("b2")
    republisher.apply(marks)  # type: ignore[arg-type]
    assert marks.calls == [None]
