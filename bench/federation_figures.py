"""Benchmark: bytes a day of a province's reports up (``figures`` messages, docs/federation.md
"Reports up") for a province of D districts of C communes each.

  1. a real one: two centers (bench/federation.py's rig, linked directly), the province's tree
     made through its API, its federation-link sending the day's figures every few seconds;
     the newest ``figures`` message of the whole tree, as sealed in its outbox and as a request,
     once the central center has applied it (a quiet day: no device, so every unit's figures
     are zeros, which the message leaves out);
  2. a busy day: the same tree with every figure of every unit set (minutes in three
     categories and three priorities, devices, availability, feedback in two categories, one
     "did you hear it?" question, training), made and sealed by the same code the link uses.
  3. the partial reports that follow: a day's first report holds the whole tree, each later
     one only the units whose figures changed; on a busy day a share of the units
     (``--changing``, default 10 %) changes between two reports.
A report goes every 15 minutes while the day's figures change (TT_FEDERATION_FIGURES_SECONDS):
at most 96 of today's and one of yesterday's a day.

Usage: .venv/bin/python bench/federation_figures.py [--districts 60] [--communes 12]
       [--changing 0.1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.federation import Site, link  # noqa: E402
from control_center.effectiveness.federated import Counts, DayFigures, HeardDay  # noqa: E402
from control_center.federation.figures_up import FiguresReport, UnitDay  # noqa: E402
from control_center.federation.messages import Kind, new_message  # noqa: E402
from protocol.base import Priority  # noqa: E402
from protocol.signing import Signer  # noqa: E402
from tests.support.tree import add_unit  # noqa: E402

REPORTS_A_DAY = 96 + 1  # every 15 minutes while today changes, and yesterday's last


def request_bytes(envelope: str) -> int:
    """The POST body the link sends for a batch of this one envelope."""
    return len(httpx.Request("POST", "http://peer/api/v1/federation/messages",
                             json={"messages": [envelope]}).content)


def tree(districts: int, communes: int) -> list[tuple[str, str, str | None, str]]:
    """(code, name, parent code, level) of the province's units, top first."""
    units: list[tuple[str, str, str | None, str]] = [("tinh-x", "Tỉnh X", None, "province")]
    for d in range(districts):
        units.append((f"huyen-{d:02d}", f"Huyện {d:02d}", "tinh-x", "district"))
        units += [(f"xa-{d:02d}-{c:02d}", f"Xã {d:02d}-{c:02d}", f"huyen-{d:02d}", "commune")
                  for c in range(communes)]
    return units


def busy() -> DayFigures:
    """Every figure of a unit set, as on a day of full use."""
    return DayFigures(
        minutes_by_category={"thoi-su": 42.5, "nong-nghiep": 18.25, "thoi-tiet": 6.0},
        minutes_by_priority={Priority.NORMAL: 60.75, Priority.PRIORITY: 6.0,
                             Priority.EMERGENCY: 0.75},
        targeted_devices=14, devices_played=13, devices=14, availability=True,
        buckets_heard=1300, buckets_expected=1344, feedback=Counts(
            received=3, answered=2, answered_on_time=2, overdue=1),
        feedback_by_category={"ha-tang": Counts(received=2, answered=1, answered_on_time=1),
                              "moi-truong": Counts(received=1, answered=1, overdue=1)},
        heard=[HeardDay(bulletin_id=1234, question_id=56, bulletin="Lịch tiêm chủng tháng 12",
                        question="Bạn có nghe thông báo này không?",
                        choices=["Có", "Không", "Nghe không rõ"], counts=[9, 2, 1])],
        training_assigned=5, training_completed=4, training_passed=3)


def sealed(units: list[tuple[str, str, str | None, str]], figures: DayFigures,
           partial: bool = False) -> str:
    report = FiguresReport(day=date.today(), tz="Asia/Ho_Chi_Minh", partial=partial, units=[
        UnitDay(code=c, name=n, parent_code=p, level=lv, figures=figures)
        for c, n, p, lv in units])
    message = new_message(sender="tinh-x", to="central", kind=Kind.FIGURES,
                          at=datetime.now(UTC),
                          payload=report.model_dump(mode="json", exclude_defaults=True))
    return Signer(Ed25519PrivateKey.generate()).seal(message).decode()


def real(work: Path, units: list[tuple[str, str, str | None, str]]) -> str:
    """The newest figures envelope of the whole tree from a real province, once applied."""
    with ExitStack() as stack:
        central = Site(stack, work, "central", "127.0.0.1")
        province = Site(stack, work, "province-x", "127.0.0.1",
                        env={"TT_FEDERATION_FIGURES_SECONDS": "3"})
        _, root = link(central, province, stack)
        made = {"tinh-x": root}
        t0 = time.time()
        for code, name, parent, level in units[1:]:
            assert parent is not None
            made[code] = add_unit(province.api, code, level, made[parent], name=name)
        print(f"bench: {len(units)} units made in {time.time() - t0:.0f} s", flush=True)
        last, end = units[-1][0], time.time() + 300
        while time.time() < end:
            rows = province.sql("SELECT envelope, delivered_at FROM federation_outbox WHERE "
                                "kind='figures' ORDER BY id DESC LIMIT 1")
            if rows and last in rows[0][0] and rows[0][1] is not None:
                applied = central.sql("SELECT outcome FROM federation_received WHERE "
                                      "kind='figures' ORDER BY id DESC LIMIT 1")
                print(f"bench: the whole tree's figures at the central center: {applied}",
                      flush=True)
                return str(rows[0][0])
            time.sleep(1)
        raise RuntimeError("no figures message of the whole tree was delivered in 5 minutes")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--districts", type=int, default=60)
    ap.add_argument("--communes", type=int, default=12, help="communes a district")
    ap.add_argument("--changing", type=float, default=0.1,
                    help="share of the units that change between two reports on a busy day")
    args = ap.parse_args()
    units = tree(args.districts, args.communes)
    work = Path(tempfile.mkdtemp(prefix="tt-fedfig-", dir="/dev/shm"))
    quiet = real(work, units)
    full = sealed(units, busy())
    changing = units[1::max(1, round(1 / args.changing))] if args.changing > 0 else []
    partial = sealed(changing, busy(), partial=True) if changing else ""
    for name, envelope in (("quiet day (real province)", quiet), ("busy day, whole tree", full),
                           (f"busy day, {len(changing)} units changed", partial)):
        if envelope:
            body = request_bytes(envelope)
            print(f"figures, {name}: envelope {len(envelope.encode()) / 1000:.1f} kB, request "
                  f"{body / 1000:.1f} kB", flush=True)
    # a day: today's first report whole, then a partial one a round; yesterday's last (its
    # availability, known once the day is over) changes every unit with devices: whole
    quiet_day = 2 * request_bytes(quiet)
    busy_day = 2 * request_bytes(full) + (REPORTS_A_DAY - 2) * (
        request_bytes(partial) if partial else 0)
    print(f"a day of reports, {len(units)} units: quiet {quiet_day / 1e6:.2f} MB (two whole "
          f"reports, nothing changes in between); busy {busy_day / 1e6:.2f} MB (two whole, "
          f"{REPORTS_A_DAY - 2} partial of {len(changing)} units); the whole tree every round "
          f"would be {request_bytes(full) * REPORTS_A_DAY / 1e6:.2f} MB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
