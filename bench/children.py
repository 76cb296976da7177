"""A benchmark's child process that reports progress as JSON lines on its stdout."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class JsonLinesChild:
    """Starts the command, collects every JSON line it prints, lets the parent wait on them."""

    def __init__(self, argv: Sequence[str], log: Path, *, stdin: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                list(argv), cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                stdin=subprocess.PIPE if stdin else None,
            )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.events.append(json.loads(line))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_until(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Block until ``done()`` (evaluated under the lock) holds; fail if the child exits."""
        with self._cond:
            ok = self._cond.wait_for(lambda: done() or self.proc.poll() is not None, timeout)
            if not ok or not done():
                raise RuntimeError(f"child {self.proc.pid}: no {what} (see its log)")
