"""Where an emergency's time goes at the province, read from its center's log (for
bench/federation.py): the request (or the central's message) to the speech stored (TTS done),
to the emergency sent (the media pipeline done, the commands published), to the first speaker
playing; and whether the pipeline needed its second loudness pass."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?(?:media: stored ([0-9a-f]{64})"
                  r"|attempt 1 of ([0-9a-f]{64}) missed|emergency \d+ \(bulletin \d+\) sent by "
                  r"(.*) to \d+ devices)")


@dataclass(frozen=True)
class Step:
    central: bool  # sent for the central center (else by the province's own operator)
    stored: float  # epoch seconds: the speech stored, processing starts
    sent: float  # the commands published
    second_pass: bool


@dataclass(frozen=True)
class Run:
    central: bool
    t0: float  # the request at the central center, or at the province
    first: float  # the first speaker's play start


def steps(log: Path) -> list[Step]:
    """Every emergency the province's log records, in order."""
    out: list[Step] = []
    stored, sha, missed = 0.0, "", set()
    for line in log.read_text(errors="replace").splitlines():
        m = LINE.match(line)
        if m is None:
            continue
        at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()  # the center's local
        if m[2]:
            stored, sha = at, m[2]
        elif m[3]:
            missed.add(m[3])
        else:
            out.append(Step(m[4].startswith("trung ương"), stored, at, sha in missed))
    return out


def report(log: Path, runs: list[Run], size: int) -> None:
    """Print each path's steps (p50) for the last ``len(runs)`` emergencies of the log."""
    found = steps(log)[-len(runs):]
    for central in (True, False):
        pairs = [(r, s) for r, s in zip(runs, found, strict=True) if r.central == central]
        if not pairs or any(s.central != central for _, s in pairs):
            print("  (the log's emergencies do not match the runs)", flush=True)
            return
        speech = statistics.median(s.stored - r.t0 for r, s in pairs)
        pipeline = statistics.median(s.sent - s.stored for _, s in pairs)
        devices = statistics.median(r.first - s.sent for r, s in pairs)
        second = sum(s.second_pass for _, s in pairs)
        print(f"  {'central' if central else 'direct '}[{size}] p50: request -> speech stored "
              f"{speech:.2f} s, -> sent {pipeline:.2f} s (second loudness pass in {second} of "
              f"{len(pairs)}), -> first speaker {devices:.2f} s", flush=True)
