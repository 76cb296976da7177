"""A size-limited tmpfs mount, for a disk that fills up (needs root).

    with small_disk(path, size_mb=16) as disk:
        disk.fill()      # write a filler file until the disk refuses (ENOSPC)
        disk.free()      # delete it: space is back
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class SmallDisk:
    path: Path
    filler: Path

    def fill(self) -> int:
        """Fill the disk to the last byte; returns the bytes written."""
        written = 0
        block = b"\0" * 65536
        with self.filler.open("ab", buffering=0) as fh:
            try:
                while True:
                    fh.write(block)
                    written += len(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
            try:  # the last partial block
                while True:
                    fh.write(b"\0" * 512)
                    written += 512
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        return written

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(path: Path, *, size_mb: int) -> Iterator[SmallDisk]:
    """Mount a ``size_mb`` tmpfs on ``path`` (created if missing); unmount on exit."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs",
                    str(path)], check=True, capture_output=True)
    try:
        yield SmallDisk(path, path / ".filler")
    finally:
        result = subprocess.run(["umount", str(path)], capture_output=True, check=False)
        if result.returncode != 0:  # still busy (an agent that did not stop): detach lazily
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
