"""A test that needs the machine to itself, while the suite runs on parallel workers.

pytest-xdist runs the test files on several worker processes sharing the cores. A test marked
``alone`` waits until the tests running on the other workers have finished, and they start
nothing new until it is done. It is a readers-writer lock on two files that every worker of
the session opens (``flock``):

- every other test passes the turnstile (an ``alone`` test holds it while it waits and runs,
  so no test starts after it asked) and then holds the gate shared while it runs;
- an ``alone`` test holds the turnstile, then the gate exclusively.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


class WorkerGate:
    """The lock files in ``folder``, a folder every worker of one session shares."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._turnstile = (folder / "turnstile.lock").open("a")
        self._gate = (folder / "gate.lock").open("a")

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Run beside other shared holders; wait while an ``alone`` test waits or runs."""
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        fcntl.flock(self._gate, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self._gate, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        """Wait for the running shared holders to finish, keep new ones out, then run."""
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._gate, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._gate, fcntl.LOCK_UN)
        finally:
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)

    def close(self) -> None:
        self._turnstile.close()
        self._gate.close()
