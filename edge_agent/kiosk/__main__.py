"""Run a kiosk: the agent plus its touch UI. python -m edge_agent.kiosk --config agent.json

The agent config's ``kiosk`` and ``speech`` sections configure the UI and voice input
(``speech.model_path``: the Vosk model folder; install one with
``python -m edge_agent.speech install``). The microphone is ALSA's ``arecord``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from pathlib import Path

from edge_agent.agent import Agent
from edge_agent.alsa import AlsaMicrophone, alsa_hardware
from edge_agent.config import load_config
from edge_agent.errors import ConfigError
from edge_agent.kiosk.config import kiosk_config_from_dict
from edge_agent.kiosk.server import Kiosk
from edge_agent.speech.config import speech_config_from_dict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_agent.kiosk")
    parser.add_argument("--config", type=Path, required=True, help="agent JSON config file")
    parser.add_argument("--mic", default="default", help="ALSA capture device")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = load_config(args.config)
        raw = json.loads(args.config.read_text(encoding="utf-8"))
        kiosk_cfg = kiosk_config_from_dict(raw.get("kiosk"))
        speech_cfg = speech_config_from_dict(raw.get("speech"))
    except ConfigError as exc:
        parser.error(str(exc))
    agent = Agent(config, alsa_hardware(None))
    kiosk = Kiosk(agent, kiosk_cfg, speech_cfg,
                  AlsaMicrophone(args.mic, speech_cfg.sample_rate))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    agent.start()
    kiosk.start()
    stop.wait()
    kiosk.stop()
    agent.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
