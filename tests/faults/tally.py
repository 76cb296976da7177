"""What a fault scenario ends with: messages made at the agents against what the center stored,
plays due against plays heard, and one row of ``docs/reliability.md``.

Sources, all real: the agents' ledgers (a line per message durably in the outbox), their play
logs (a line per play heard at the simulated loudspeaker), the center's ``device_events`` table
and its ingestor's counters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

from firmware_sim.hardware import PlayRecord
from firmware_sim.ledger import LedgerEntry

LATE_TOLERANCE_S = 0.5
"""A play is late when it started more than this after its instant (the e2e suite holds
starts within 0.1 s; a fault may cost a little more, never a missed or shifted play)."""


@dataclass(frozen=True, slots=True)
class Due:
    """One play that should happen: this device, this instant (a one-off schedule)."""

    device_id: str
    at: datetime
    schedule_id: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_id: str
    device_id: str
    type: str
    received_at: float  # epoch seconds (the center's clock)


@dataclass(frozen=True, slots=True)
class Tally:
    """The figures of one scenario (see the module docstring for where each comes from)."""

    events_made: int
    telemetry_made: int  # health reports put in the outboxes
    events_stored: int  # of the events made, how many the center holds
    missing: tuple[str, ...]  # event ids made and not stored
    unledgered: int  # events the center holds for these devices that no ledger line names
    duplicate_plays: int  # plays heard more than once for the same item id
    redeliveries: int  # redelivered events the center recognised and absorbed
    plays_due: int
    plays_heard: int
    plays_late: int
    unheard: tuple[str, ...] = ()  # "device@instant" of plays due and not heard
    converge_s: float | None = None  # fault end -> last event missing at that moment stored
    late_tolerance_s: float = LATE_TOLERANCE_S
    stored_by_type: dict[str, int] = field(default_factory=dict)

    @property
    def lossless(self) -> bool:
        """Every event made is stored, and no play was heard twice."""
        return not self.missing and self.duplicate_plays == 0

    @property
    def all_heard_on_time(self) -> bool:
        return self.plays_heard == self.plays_due and self.plays_late == 0

    def problems(self) -> list[str]:
        """What misses the goal, in words (empty when the scenario met it)."""
        out = []
        if self.missing:
            out.append(f"{len(self.missing)} event(s) made and not stored: {self.missing[:5]}")
        if self.duplicate_plays:
            out.append(f"{self.duplicate_plays} play(s) heard twice")
        if self.plays_heard < self.plays_due:
            out.append(f"plays heard {self.plays_heard} of {self.plays_due}: {self.unheard[:5]}")
        if self.plays_late:
            out.append(f"{self.plays_late} play(s) later than {self.late_tolerance_s} s")
        return out


def count(
    *,
    made: Iterable[LedgerEntry],
    stored: Iterable[StoredEvent],
    plays: Mapping[str, Sequence[PlayRecord]],
    due: Iterable[Due],
    redeliveries: int,
    fault_end: float | None = None,
    late_tolerance_s: float = LATE_TOLERANCE_S,
) -> Tally:
    """Compare what was made and due with what was stored and heard."""
    made = list(made)
    events = [e for e in made if e.channel == "event"]
    stored_by_id = {s.event_id: s for s in stored}
    made_ids = {e.event_id for e in events}
    missing = tuple(e.event_id for e in events if e.event_id not in stored_by_id)
    heard, late, unheard, twice = _plays(plays, list(due), late_tolerance_s)
    return Tally(
        events_made=len(made_ids),
        telemetry_made=sum(1 for e in made if e.channel == "telemetry"),
        events_stored=sum(1 for i in made_ids if i in stored_by_id),
        missing=missing,
        unledgered=sum(1 for i in stored_by_id if i not in made_ids),
        duplicate_plays=twice,
        redeliveries=redeliveries,
        plays_due=heard + len(unheard),
        plays_heard=heard,
        plays_late=late,
        unheard=tuple(unheard),
        converge_s=_converge(events, stored_by_id, fault_end) if not missing else None,
        late_tolerance_s=late_tolerance_s,
        stored_by_type=dict(Counter(s.type for s in stored_by_id.values())),
    )


def _plays(plays: Mapping[str, Sequence[PlayRecord]], due: list[Due], tolerance: float
           ) -> tuple[int, int, list[str], int]:
    heard = late = twice = 0
    unheard = []
    for device_plays in plays.values():
        per_item = Counter(p.item_id for p in device_plays)
        twice += sum(n - 1 for n in per_item.values() if n > 1)
    for d in due:
        instant = d.at.timestamp()
        match = [p for p in plays.get(d.device_id, ())
                 if abs(p.scheduled_at - instant) < 0.001]
        if not match:
            unheard.append(f"{d.device_id}@{d.at.isoformat()}")
            continue
        heard += 1
        if min(p.started_at for p in match) - instant > tolerance:
            late += 1
    return heard, late, unheard, twice


def _converge(events: list[LedgerEntry], stored: Mapping[str, StoredEvent],
              fault_end: float | None) -> float | None:
    """Seconds from the fault's end until the last event made before it (and not yet stored
    then) was stored; 0 when nothing was waiting; None without a fault end."""
    if fault_end is None:
        return None
    waiting = [stored[e.event_id].received_at for e in events
               if e.made_at <= fault_end and stored[e.event_id].received_at > fault_end]
    return max(waiting) - fault_end if waiting else 0.0


@dataclass(frozen=True, slots=True)
class ReliabilityRow:
    """One row of the table in ``docs/reliability.md``."""

    scenario: str
    what: str
    tally: Tally
    command: str
    note: str = ""
    bench: str = ""  # the bench command that made these figures, when a bench run did
    issues: tuple[str, ...] = ()  # what else misses the scenario's goal (crashes, threads)

    def problems(self) -> list[str]:
        """Everything that misses the goal: the tally's figures and the scenario's own."""
        return [*self.tally.problems(), *self.issues]

    HEADER = ("| Scenario | What was done | Events made / stored / duplicated | "
              "Plays due / heard / late | Time to converge | Rerun |\n"
              "|---|---|---|---|---|---|")

    def markdown(self) -> str:
        t = self.tally
        events = f"{t.events_made} / {t.events_stored} / {t.duplicate_plays}"
        if t.redeliveries:
            events += f" ({t.redeliveries} redeliveries absorbed)"
        converge = "n/a" if t.converge_s is None else f"{t.converge_s:.1f} s"
        what = self.what + (f" {self.note}" if self.note else "")
        return (f"| {self.scenario} | {what} | {events} | "
                f"{t.plays_due} / {t.plays_heard} / {t.plays_late} | {converge} | "
                f"`{self.command}`" + (f"<br>`{self.bench}`" if self.bench else "") + " |")

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["tally"]["missing"] = list(self.tally.missing)
        data["problems"] = self.problems()
        return data
