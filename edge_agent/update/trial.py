"""The new version on trial confirms its health, and every version reports how the last
update ended.

A version started on trial (``state.json`` has an open trial for it) checks its health until
it is connected to the broker, has verified a manifest since it started and its player loop
advances; it then writes the confirmation (under the state lock: the launcher may be rolling
back at the same instant, and only one of the two wins), installs its own ``launch.py`` at
the root, prunes older releases and reports ``confirmed``. While it waits, it writes what it
still lacks into the trial, which becomes the launcher's reason if the deadline passes.
The old version, started again after a rollback, reports ``rolled_back`` with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent.supervision import Heartbeats
from edge_agent.update.install import launcher_of, prune_releases
from edge_agent.update.launch import (
    RESULT_CONFIRMED,
    RESULT_ROLLED_BACK,
    Layout,
    Outcome,
    copy_launcher,
)
from edge_agent.update.report import UpdateReporter
from protocol.events import UpdateStage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HealthChecks:
    """What a version on trial must show before it is kept."""

    connected: Callable[[], bool]
    manifest_verified: Callable[[], bool]
    player_problem: Callable[[], str | None]  # None when the player loop advances

    def lacking(self) -> list[str]:
        out = []
        if not self.connected():
            out.append("not connected to the broker")
        if not self.manifest_verified():
            out.append("no manifest verified")
        problem = self.player_problem()
        if problem:
            out.append(problem)
        return out


def player_stalled(heartbeats: Heartbeats, stall_after_s: float) -> Callable[[], str | None]:
    """The player check of a trial: its loop went round within ``stall_after_s`` (a faulty
    amplifier relay is the hardware's problem, not the release's: it does not count)."""
    def problem() -> str | None:
        age = heartbeats.age("player")
        if age is None:
            return "the player loop has not gone round"
        if age > stall_after_s:
            return f"the player has not advanced for {age:.0f} s"
        return None
    return problem


class TrialWatcher:
    """Reports the last update's outcome, and confirms this version if it is on trial."""

    def __init__(self, *, layout: Layout, reporter: UpdateReporter, checks: HealthChecks,
                 poll_s: float = 0.25) -> None:
        self._layout = layout
        self._reporter = reporter
        self._checks = checks
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="update-trial", daemon=True)
        self.confirmed = threading.Event()

    def start(self) -> None:
        if self._layout.state_file.exists():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            self.report_outcome()
            self._watch()
        except Exception:  # the agent must outlive a broken state file or a full disk
            log.exception("update trial bookkeeping failed")

    def _watch(self) -> None:
        version = self._reporter.running_version
        trial = self._layout.read_state().trial
        if trial is None or trial.version != version or trial.rollback_reason:
            return
        began = time.monotonic()
        said = None
        while not self._stop.is_set():
            lacking = self._checks.lacking()
            if not lacking:
                if self._confirm(time.monotonic() - began):
                    self.confirmed.set()
                return
            text = "; ".join(lacking)
            if text != said and not self._note(text):
                return  # the trial ended (rolled back)
            said = text
            self._stop.wait(self._poll_s)

    def _note(self, lacking: str) -> bool:
        with self._layout.editing() as state:
            trial = state.trial
            if trial is None or trial.version != self._reporter.running_version:
                return False
            trial.waiting_for = lacking[:300]
            return not trial.rollback_reason

    def _confirm(self, healthy_after_s: float) -> bool:
        version = self._reporter.running_version
        layout = self._layout
        with layout.editing() as state:
            trial = state.trial
            if trial is None or trial.version != version or trial.rollback_reason:
                return False  # the launcher is rolling back: too late
            state.last = Outcome(
                version=version, from_version=trial.from_version, result=RESULT_CONFIRMED,
                reason=(f"connected, manifest verified, player advancing {healthy_after_s:.1f} "
                        f"s after start (start {trial.attempts})"),
                at=time.time(), started_at=trial.started_at, launched_at=trial.launched_at,
                rollout_id=trial.rollout_id, command_id=trial.command_id)
            state.trial = None
        log.info("update to %s confirmed healthy", version)
        try:
            copy_launcher(layout, launcher_of(layout, version))
            pruned = prune_releases(layout)
            if pruned:
                log.info("pruned old releases: %s", ", ".join(pruned))
        except OSError as exc:  # confirmed all the same; the old launcher still works
            log.error("after confirming %s: %s", version, exc)
        self.report_outcome()
        return True

    def report_outcome(self) -> None:
        """Send the report of the last update's outcome once (this version's confirmation,
        or a rollback to this version)."""
        running = self._reporter.running_version
        last = self._layout.read_state().last
        if last is None or last.reported:
            return
        if last.result == RESULT_CONFIRMED and last.version == running:
            stage = UpdateStage.CONFIRMED
        elif last.result == RESULT_ROLLED_BACK and last.version != running:
            stage = UpdateStage.ROLLED_BACK
        else:
            return
        self._reporter.report(stage, last.version, rollout_id=last.rollout_id,
                              reason=last.reason, duration_ms=last.duration_ms)
        with self._layout.editing() as state:
            if state.last is not None and state.last.command_id == last.command_id:
                state.last.reported = True
