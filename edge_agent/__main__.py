"""Run the agent on a device: python -m edge_agent --config /etc/tt-agent/agent.json
(enrol it first: python -m edge_agent enrol --center URL --code CODE)"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from edge_agent import enrol
from edge_agent.agent import Agent
from edge_agent.alsa import alsa_hardware
from edge_agent.alsa_live import AlsaPcmSink
from edge_agent.config import load_config
from edge_agent.errors import ConfigError
from edge_agent.update.launch import EXIT_RESTART  # the launcher starts the agent again


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["enrol"]:
        return enrol.main(args_in[1:])
    parser = argparse.ArgumentParser(prog="python -m edge_agent")
    parser.add_argument("--config", type=Path, required=True, help="agent JSON config file")
    parser.add_argument("--relay-gpio", type=Path, default=None,
                        help="sysfs value file of the amplifier relay GPIO")
    args = parser.parse_args(args_in)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        parser.error(str(exc))
    hardware = alsa_hardware(args.relay_gpio)
    agent = Agent(config, hardware)
    if isinstance(hardware.live, AlsaPcmSink):  # live samples are placed by the agent's clock
        hardware.live.clock = lambda: agent.clock.now().timestamp()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    agent.start()
    while not stop.wait(1.0):
        if agent.restart_needed.is_set():
            logging.critical("restarting: %s", agent.restart_reason)
            agent.stop()
            return EXIT_RESTART
    agent.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
