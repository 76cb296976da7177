"""An ``update`` command, from accepted to the restart into the new release.

The command is acknowledged ``accepted`` at once when it can start, or ``rejected`` with the
reason (not under a managed root, that version already running, another update under way).
Then, in its own thread: the release manifest and wheels are fetched and verified
(``downloaded``), installed side by side and checked (``installed``), a trial is opened in
``state.json`` and ``current`` switched (``restarting``, delivered before the agent exits with
75 so that the launcher starts the new version). Any failure before the switch is reported
``failed`` with the reason, and nothing is switched.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from edge_agent.config import AgentConfig
from edge_agent.resumable import Transfer
from edge_agent.update.download import discard, fetch_file, fetch_release
from edge_agent.update.errors import UpdateError
from edge_agent.update.install import check_release, install_release
from edge_agent.update.launch import DEFAULT_ROOT, ROOT_ENV, Layout, Trial
from edge_agent.update.report import UpdateReporter, elapsed_ms
from protocol.events import CommandOutcome, UpdateStage
from protocol.manifest import Command, UpdateAgent
from protocol.release import ReleaseManifest
from protocol.signing import Verifier

log = logging.getLogger(__name__)
Ack = Callable[[str, CommandOutcome, str], None]
INSTALL_FACTOR = 3  # an unpacked environment takes about this many times its wheels


def managed_root(config: AgentConfig, environ: Mapping[str, str] | None = None) -> Path:
    """The managed root: the config's ``update.root``, else $TT_AGENT_ROOT, else the default."""
    env = os.environ if environ is None else environ
    return Path(config.update.root or env.get(ROOT_ENV) or DEFAULT_ROOT)


def not_managed(layout: Layout, prefix: str = sys.prefix) -> str | None:
    """Why this agent cannot update itself (None when it runs from a managed release)."""
    current = layout.current_version()
    if current is None:
        return f"not installed under a managed root: {layout.current} is not a release link"
    running_from = Path(prefix).resolve()
    if running_from.parent != layout.releases.resolve():
        return (f"not installed under a managed root: this agent runs from {running_from}, "
                f"not from a release under {layout.releases}")
    return None


class UpdateCommands:
    """Takes ``update`` commands; runs one at a time in its own thread."""

    def __init__(self, *, config: AgentConfig, layout: Layout, verifier: Verifier,
                 reporter: UpdateReporter, ack: Ack, restart: Callable[[str], None],
                 drained: Callable[[float], bool], prefix: str = sys.prefix) -> None:
        self._config = config
        self._layout = layout
        self._verifier = verifier
        self._reporter = reporter
        self._ack = ack
        self._restart = restart
        self._drained = drained
        self._prefix = prefix
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def running_version(self) -> str:
        return self._reporter.running_version

    def take(self, cmd: Command, action: UpdateAgent) -> bool:
        """Acknowledge and start the update, or refuse it with the reason; False if refused."""
        refusal = self._refusal(action)
        if refusal is None:
            with self._lock:
                if self._thread is not None and self._thread.is_alive():
                    refusal = "another update is in progress"
                else:
                    self._thread = threading.Thread(
                        target=self._run, args=(cmd, action, time.time()),
                        name="update", daemon=True)
        if refusal is not None:
            log.warning("update to %s refused: %s", action.release.version, refusal)
            self._ack(cmd.id, CommandOutcome.REJECTED, refusal)
            return False
        self._ack(cmd.id, CommandOutcome.ACCEPTED, "")
        assert self._thread is not None
        self._thread.start()
        return True

    def _refusal(self, action: UpdateAgent) -> str | None:
        reason = not_managed(self._layout, self._prefix)
        if reason is not None:
            return reason
        if action.release.version == self.running_version:
            return f"version {self.running_version} is already running"
        trial = self._layout.read_state().trial
        if trial is not None:
            return f"another update (to {trial.version}) is in progress"
        return None

    def stop(self) -> None:
        self._cancel.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout=10)

    # the update's thread ------------------------------------------------------------------
    def _run(self, cmd: Command, action: UpdateAgent, taken_at: float) -> None:
        version = action.release.version
        rollout = action.rollout_id
        stage_began = time.monotonic()
        folder = self._config.data_dir / "updates" / version
        try:
            release, wheels = self._download(action, folder)
            now = time.monotonic()
            self._reporter.report(UpdateStage.DOWNLOADED, version, rollout_id=rollout,
                                  duration_ms=elapsed_ms(stage_began, now),
                                  reason=f"{len(wheels)} file(s), "
                                         f"{sum(f.size for f in release.files)} bytes")
            stage_began = now
            self._require_space(self._layout.releases.parent, release, INSTALL_FACTOR)
            install_release(self._layout, version, wheels)
            check_release(self._layout, version)
            discard(folder)
            now = time.monotonic()
            self._reporter.report(UpdateStage.INSTALLED, version, rollout_id=rollout,
                                  duration_ms=elapsed_ms(stage_began, now))
            stage_began = now
            confirm_s = self._config.update.confirm_within_s or action.confirm_within_s
            self._switch(Trial(version=version, from_version=self.running_version,
                               deadline=time.time() + confirm_s, confirm_within_s=confirm_s,
                               started_at=taken_at, rollout_id=rollout, command_id=cmd.id))
        except UpdateError as exc:
            self._failed(version, rollout, str(exc), taken_at)
            return
        except OSError as exc:
            why = ("disk full" if exc.errno == errno.ENOSPC else "file error") + f": {exc}"
            self._failed(version, rollout, f"{why}; nothing was switched", taken_at)
            return
        except Exception as exc:  # e.g. a URL httpx refuses: reported, never a silent end
            log.exception("update to %s failed unexpectedly", version)
            self._failed(version, rollout, f"unexpected {type(exc).__name__}: {exc}; nothing "
                         "was switched", taken_at)
            return
        self._reporter.report(UpdateStage.RESTARTING, version, rollout_id=rollout,
                              duration_ms=elapsed_ms(stage_began, time.monotonic()),
                              reason=f"{self.running_version} -> {version}; confirm within "
                                     f"{confirm_s:.0f} s")
        if not self._drained(self._config.update.drain_timeout_s):
            log.warning("restarting report not delivered yet; it stays in the outbox")
        self._restart(f"update to {version}")

    def _download(self, action: UpdateAgent,
                  folder: Path) -> tuple[ReleaseManifest, list[Path]]:
        cache = self._config.cache
        transfer = Transfer(chunk_bytes=cache.chunk_bytes, rate_limit_bps=cache.rate_limit_bps,
                            cancel=self._cancel)
        with httpx.Client(timeout=cache.http_timeout_s, follow_redirects=True) as http:
            release = fetch_release(http, action.release, self._verifier)
            folder.mkdir(parents=True, exist_ok=True)
            self._require_space(folder, release, 1)
            wheels = [fetch_file(http, release.files_base_url + f.name, f, folder, transfer).path
                      for f in release.files]
        return release, wheels

    @staticmethod
    def _require_space(where: Path, release: ReleaseManifest, factor: int) -> None:
        need = sum(f.size for f in release.files) * factor
        free = shutil.disk_usage(where).free
        if free < need:
            raise UpdateError(f"disk full: {need // 2**20} MiB needed under {where}, "
                              f"{free // 2**20} MiB free; nothing was switched")

    def _switch(self, trial: Trial) -> None:
        """Open the trial, then point ``previous`` at the running release and ``current`` at
        the new one (in that order: a power cut in between leaves a trial the launcher
        closes as not switched, never a new version running without a trial)."""
        layout = self._layout
        with layout.editing() as state:
            if state.trial is not None:
                raise UpdateError(f"another update (to {state.trial.version}) is in progress")
            state.trial = trial
        try:
            layout.point(layout.previous, trial.from_version)
            layout.point(layout.current, trial.version)
        except OSError:  # not switched (``current`` is replaced whole or not at all)
            with layout.editing() as state:
                if state.trial is not None and state.trial.version == trial.version:
                    state.trial = None
            raise
        log.info("switched to %s; restarting into it (confirm within %.0f s)", trial.version,
                 trial.confirm_within_s)

    def _failed(self, version: str, rollout: int | None, reason: str, taken_at: float) -> None:
        log.error("update to %s failed: %s", version, reason)
        self._reporter.report(UpdateStage.FAILED, version, rollout_id=rollout, reason=reason,
                              duration_ms=round((time.time() - taken_at) * 1000))
