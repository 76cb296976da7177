"""Reading the segments the segmenter wrote: what comes after a position, by any process.

Layout: ``<root>/<stream>/<run>/`` holds ``init.mp4`` (and ``init.sha256``), the segments
``seg<seq>.m4s`` and their signed descriptors ``seg<seq>.json``; a segment exists for
readers once its descriptor does. Runs count from 1; a later run supersedes an earlier one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from control_center.live.segmenter import INIT_NAME, descriptor_name, segment_name

_RUN = re.compile(r"^[0-9]{1,9}$")
_DESCRIPTOR = re.compile(r"^seg([0-9]{6,9})\.json$")


@dataclass(frozen=True, slots=True, order=True)
class Position:
    run: int
    seq: int

    def __str__(self) -> str:
        return f"{self.run}:{self.seq}"


@dataclass(frozen=True, slots=True)
class StoredSegment:
    position: Position
    envelope: bytes  # the sealed LiveSegment
    data: bytes


class SegmentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _runs(self, stream_id: str) -> list[int]:
        base = self.root / stream_id
        if not base.is_dir():
            return []
        return sorted(int(p.name) for p in base.iterdir() if _RUN.match(p.name))

    def _seqs(self, stream_id: str, run: int) -> list[int]:
        directory = self.root / stream_id / str(run)
        seqs = []
        for p in directory.iterdir():
            m = _DESCRIPTOR.match(p.name)
            if m:
                seqs.append(int(m[1]))
        return sorted(seqs)

    def latest(self, stream_id: str) -> Position | None:
        """The newest segment of the newest run that has one."""
        for run in reversed(self._runs(stream_id)):
            seqs = self._seqs(stream_id, run)
            if seqs:
                return Position(run, seqs[-1])
        return None

    def after(self, stream_id: str, position: Position) -> Position | None:
        """The segment that follows ``position``: the next of its run, else the first of a
        later run (the source was restarted), else None (not written yet)."""
        directory = self.root / stream_id / str(position.run)
        if (directory / descriptor_name(position.seq + 1)).exists():
            return Position(position.run, position.seq + 1)
        for run in self._runs(stream_id):
            if run > position.run:
                seqs = self._seqs(stream_id, run)
                if seqs:
                    return Position(run, seqs[0])
        return None

    def read(self, stream_id: str, position: Position) -> StoredSegment | None:
        directory = self.root / stream_id / str(position.run)
        try:
            envelope = (directory / descriptor_name(position.seq)).read_bytes()
            data = (directory / segment_name(position.seq)).read_bytes()
        except FileNotFoundError:
            return None
        return StoredSegment(position, envelope, data)

    def init_segment(self, stream_id: str, sha256: str) -> bytes | None:
        """A run's initialisation segment, by its hash."""
        for run in reversed(self._runs(stream_id)):
            directory = self.root / stream_id / str(run)
            try:
                if (directory / "init.sha256").read_text().strip() == sha256:
                    return (directory / INIT_NAME).read_bytes()
            except FileNotFoundError:
                continue
        return None

    def next_run(self, stream_id: str) -> int:
        runs = self._runs(stream_id)
        return (runs[-1] + 1) if runs else 1
