"""A simulated live output: keeps the samples it played with the instants it played them.

Like a sound card it plays contiguous writes without a seam, on its own sample clock, from
the instant the first of them really started (measured after waiting for it, by the agent's
clock); a write that does not continue the previous one starts a new block at its own
instant. Blocks go to memory and, with ``log_path``, to files another process can read:
``<log_path>.jsonl`` lists blocks (start instant, file), each block's samples in its own file.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

SAMPLE_RATE = 48_000
BYTES_PER_SAMPLE = 2
SEAM_S = 0.015
"""A write starting within this of where the previous one ended continues it."""
AHEAD_S = 0.1
"""How far ahead of the output a write may be handed over (the card's buffer)."""


@dataclass(slots=True)
class LiveBlock:
    start: float  # epoch seconds (agent clock) the first sample left
    pcm: bytearray = field(default_factory=bytearray)

    @property
    def end(self) -> float:
        return self.start + len(self.pcm) / BYTES_PER_SAMPLE / SAMPLE_RATE


class SimPcmSink:
    def __init__(self, device_id: str, log_path: Path | None = None) -> None:
        self.device_id = device_id
        self.log_path = log_path
        self.blocks: list[LiveBlock] = []
        self.changed = threading.Condition()
        self.clock: Callable[[], float] = time.time
        """The agent's clock in epoch seconds (``Agent.clock`` once the agent exists)."""
        self._next: float | None = None
        self._file: BinaryIO | None = None

    def write(self, pcm: bytes, *, at: datetime, cancel: threading.Event) -> datetime | None:
        target = at.timestamp()
        if self._next is not None and abs(target - self._next) <= SEAM_S:
            block, start = self.blocks[-1], self._next
        else:
            wait = target - self.clock()
            if wait > 0 and cancel.wait(wait):
                return None
            start = self.clock()  # when it really began, however late the wake-up was
            block = LiveBlock(start)
            with self.changed:
                self.blocks.append(block)
            self._log_block(block)
        kept = len(block.pcm)
        with self.changed:
            block.pcm.extend(pcm)
            self.changed.notify_all()
        self._next = start + len(pcm) / BYTES_PER_SAMPLE / SAMPLE_RATE
        # a blocking write with a short buffer: it returns when the chunk has nearly left;
        # stopped before, what had not left yet is dropped (as snd_pcm_drop does)
        hold = self._next - AHEAD_S - self.clock()
        if hold > 0 and cancel.wait(hold):
            played = max(0.0, self.clock() - start)
            cut = kept + int(played * SAMPLE_RATE) * BYTES_PER_SAMPLE
            with self.changed:
                del block.pcm[min(cut, len(block.pcm)):]
                self.changed.notify_all()
            self._next = None
            self._log_pcm(len(self.blocks) - 1, bytes(block.pcm[kept:]))
            return datetime.fromtimestamp(start, UTC) if played > 0 else None
        self._log_pcm(len(self.blocks) - 1, pcm)
        return datetime.fromtimestamp(start, UTC)

    def close(self) -> None:
        self._next = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def samples(self) -> list[tuple[float, bytes]]:
        with self.changed:
            return [(b.start, bytes(b.pcm)) for b in self.blocks]

    def wait_for(self, predicate: Callable[[list[LiveBlock]], bool], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.blocks), timeout)

    def _log_block(self, block: LiveBlock) -> None:
        if self.log_path is None:
            return
        n = len(self.blocks) - 1
        with Path(f"{self.log_path}.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"start": block.start, "file": f"{self.log_path.name}.{n}.pcm"})
                     + "\n")

    def _log_pcm(self, n: int, pcm: bytes) -> None:
        if self.log_path is None:
            return
        name = f"{self.log_path}.{n}.pcm"
        if self._file is None or self._file.name != name:
            if self._file is not None:
                self._file.close()
            self._file = Path(name).open("ab")  # noqa: SIM115 - kept open across writes
        self._file.write(pcm)
        self._file.flush()


def read_live_log(log_path: Path) -> list[tuple[float, bytes]]:
    """The blocks a sink in another process played: (start instant, samples)."""
    index = Path(f"{log_path}.jsonl")
    if not index.exists():
        return []
    blocks = []
    for line in index.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        path = log_path.parent / entry["file"]
        blocks.append((float(entry["start"]), path.read_bytes() if path.exists() else b""))
    return blocks
