"""The agent's side of updates in one object: commands in, trial confirmation and reports out."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from edge_agent.clock import Clock
from edge_agent.config import AgentConfig
from edge_agent.update.commands import Ack, UpdateCommands, managed_root
from edge_agent.update.launch import Layout
from edge_agent.update.report import UpdateReporter
from edge_agent.update.trial import HealthChecks, TrialWatcher
from protocol.events import UpdateReport
from protocol.manifest import Command, UpdateAgent
from protocol.signing import Verifier


class AgentUpdates:
    def __init__(self, *, config: AgentConfig, running_version: str, verifier: Verifier,
                 clock: Clock, emit: Callable[[UpdateReport], None], ack: Ack,
                 restart: Callable[[str], None], drained: Callable[[float], bool],
                 checks: HealthChecks, environ: Mapping[str, str] | None = None) -> None:
        self.layout = Layout(managed_root(config, environ))
        reporter = UpdateReporter(device_id=config.device_id, running_version=running_version,
                                  clock=clock, emit=emit)
        self.commands = UpdateCommands(config=config, layout=self.layout, verifier=verifier,
                                       reporter=reporter, ack=ack, restart=restart,
                                       drained=drained)
        self.trial = TrialWatcher(layout=self.layout, reporter=reporter, checks=checks,
                                  poll_s=config.update.health_poll_s)

    def start(self) -> None:
        self.trial.start()

    def stop(self) -> None:
        self.trial.stop()
        self.commands.stop()

    def take(self, cmd: Command, action: UpdateAgent) -> bool:
        return self.commands.take(cmd, action)
