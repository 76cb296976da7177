"""A disk buffer of line-protocol batches, replayed oldest first.

Each batch is one file ``<sequence>.lp`` written to a temporary name, fsynced and renamed, so
a crash leaves whole batches only. The buffer survives a restart of the center.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class SpillFull(Exception):
    """The buffer reached its size cap."""


class SpillBuffer:
    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        for tmp in self._dir.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        self._max_bytes = max_bytes
        self._segments: list[tuple[int, int, int]] = []  # (sequence, bytes, lines), oldest first
        for path in sorted(self._dir.glob("*.lp")):
            data = path.read_bytes()
            self._segments.append((int(path.stem), len(data), data.count(b"\n")))
        self._next = self._segments[-1][0] + 1 if self._segments else 1
        self._bytes = sum(size for _, size, _ in self._segments)
        self._lines = sum(lines for _, _, lines in self._segments)
        if self._segments:
            log.warning("telemetry spill: %d batches (%d bytes) left from a previous run",
                        len(self._segments), self.bytes)

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def lines(self) -> int:
        return self._lines

    @property
    def batches(self) -> int:
        return len(self._segments)

    def __bool__(self) -> bool:
        return bool(self._segments)

    def append(self, lines: list[str]) -> None:
        data = ("\n".join(lines) + "\n").encode()
        if self.bytes + len(data) > self._max_bytes:
            raise SpillFull(f"spill buffer at {self.bytes} bytes, cap {self._max_bytes}")
        seq = self._next
        self._next += 1
        path = self._dir / f"{seq:012d}.lp"
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        self._segments.append((seq, len(data), len(lines)))
        self._bytes += len(data)
        self._lines += len(lines)

    def oldest(self) -> tuple[int, str, int] | None:
        """(sequence, text, line count) of the oldest batch."""
        if not self._segments:
            return None
        seq, _, lines = self._segments[0]
        return seq, (self._dir / f"{seq:012d}.lp").read_text(encoding="utf-8"), lines

    def remove(self, seq: int) -> None:
        if not self._segments or self._segments[0][0] != seq:
            raise ValueError(f"batch {seq} is not the oldest")
        _, size, lines = self._segments.pop(0)
        self._bytes -= size
        self._lines -= lines
        (self._dir / f"{seq:012d}.lp").unlink(missing_ok=True)
