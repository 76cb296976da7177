"""Many simulated devices in one process (demo, benchmark), each a real Agent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from edge_agent.agent import Agent
from edge_agent.config import AgentConfig
from firmware_sim.hardware import SimAudioSink, sim_hardware
from firmware_sim.ledger import LedgerFile
from firmware_sim.live_sink import SimPcmSink
from firmware_sim.sensors import SimSensors

log = logging.getLogger(__name__)


@dataclass
class SimDevice:
    agent: Agent
    sink: SimAudioSink


class Fleet:
    """Starts and stops a set of agents with simulated hardware."""

    def __init__(self, configs: list[AgentConfig], *, play_log_dir: Path | None = None,
                 time_scale: float = 1.0, ledger_path: Path | None = None) -> None:
        self.devices: dict[str, SimDevice] = {}
        self.ledger = LedgerFile(ledger_path) if ledger_path is not None else None
        if play_log_dir is not None:
            play_log_dir.mkdir(parents=True, exist_ok=True)
        for config in configs:
            log_path = play_log_dir / f"{config.device_id}.plays.jsonl" if play_log_dir else None
            hardware, sink = sim_hardware(config.device_id, log_path, time_scale)
            agent = Agent(config, hardware, probe=SimSensors(config.device_id),
                          ledger=self.ledger)
            if isinstance(hardware.live, SimPcmSink):
                hardware.live.clock = lambda a=agent: a.clock.now().timestamp()  # type: ignore[misc]
            self.devices[config.device_id] = SimDevice(agent, sink)

    def start(self) -> None:
        for device in self.devices.values():
            device.agent.start()

    def wait_connected(self, timeout: float) -> list[str]:
        """Ids of devices that did not connect within the timeout."""
        return [d for d, dev in self.devices.items()
                if not dev.agent.link.connected_event.wait(timeout)]

    def stop(self) -> None:
        for device in self.devices.values():
            try:
                device.agent.stop()
            except Exception:  # keep stopping the others
                log.exception("stopping %s failed", device.agent.device_id)
        if self.ledger is not None:
            self.ledger.close()
