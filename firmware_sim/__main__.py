"""Simulated devices: `agent --config FILE` (one device), `fleet --config FILE...`, and
`provision` (register the simulated fleet in a center, write enrolment codes: provision.py).

`agent` with `--enrol-center URL --code-file F` enrols first when FILE does not exist yet
(self_enrol.py); with `--kiosk-ui HOST:PORT` a kiosk also serves its touch UI there.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from edge_agent.config import load_config
from edge_agent.enrol import EnrolError
from edge_agent.errors import ConfigError
from firmware_sim import provision
from firmware_sim.fleet import Fleet
from firmware_sim.report import FleetReporter, rss_bytes
from firmware_sim.self_enrol import ensure_enrolled

if TYPE_CHECKING:
    from edge_agent.agent import Agent
    from edge_agent.kiosk.server import Kiosk


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (port 0: any free port)."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: write HOST:PORT, e.g. 0.0.0.0:8080")
    return host, int(port)


def kiosk_ui(agent: Agent, host: str, port: int) -> Kiosk:
    """The kiosk's touch UI for ``agent`` (imported here: plain devices and fleets start
    without the web stack)."""
    from edge_agent.kiosk.config import KioskConfig
    from edge_agent.kiosk.server import Kiosk
    from edge_agent.speech.config import SpeechConfig

    return Kiosk(agent, KioskConfig(host=host, port=port), SpeechConfig(), None)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m firmware_sim")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("provision", help="register the simulated fleet, write enrolment codes "
                                     "(python -m firmware_sim provision --help)")
    for name in ("agent", "fleet"):
        p = sub.add_parser(name, help=f"run simulated {'device' if name == 'agent' else 'devices'}")
        p.add_argument("--config", type=Path, nargs="+" if name == "fleet" else None,
                       required=True, help="agent JSON config file(s)")
        p.add_argument("--play-log-dir", type=Path, default=None,
                       help="write every play as JSON lines to DIR/<device>.plays.jsonl")
        p.add_argument("--ledger", type=Path, default=None,
                       help="append one JSON line per message made (in the outbox) to FILE")
        p.add_argument("--time-scale", type=float, default=1.0,
                       help="play durations multiplied by this factor")
        p.add_argument("--report", action="store_true",
                       help="print JSON lines (ready, manifest, play) on stdout for a parent")
        if name == "agent":
            p.add_argument("--enrol-center", default=None, metavar="URL",
                           help="enrol with this center first when --config does not exist")
            p.add_argument("--code-file", type=Path, default=None,
                           help="the enrolment code (needed with --enrol-center)")
            p.add_argument("--data-dir", type=Path, default=None,
                           help="the agent's data directory when enrolling (default: the "
                                "config's folder)")
            p.add_argument("--enrol-wait", type=float, default=300.0,
                           help="seconds to wait for the code file to appear")
            p.add_argument("--kiosk-ui", type=host_port, default=None, metavar="HOST:PORT",
                           help="a kiosk: serve its touch UI there (voice input off)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["provision"]:
        logging.basicConfig(level=logging.WARNING)
        return provision.main(args_in[1:])
    parser = _parser()
    args = parser.parse_args(args_in)
    logging.basicConfig(level=logging.WARNING if args.report else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    paths = args.config if isinstance(args.config, list) else [args.config]
    if args.cmd == "agent" and args.enrol_center:
        if args.code_file is None:
            parser.error("--enrol-center needs --code-file")
        try:
            ensure_enrolled(args.config, center=args.enrol_center, code_file=args.code_file,
                            data_dir=args.data_dir or args.config.parent, wait_s=args.enrol_wait)
        except EnrolError as exc:
            print(f"enrolment failed: {exc}", file=sys.stderr)
            return 2
    try:
        configs = [load_config(p) for p in paths]
    except ConfigError as exc:
        parser.error(str(exc))
    if args.play_log_dir:
        args.play_log_dir.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(configs, play_log_dir=args.play_log_dir, time_scale=args.time_scale,
                  ledger_path=args.ledger)
    kiosk = None
    if args.cmd == "agent" and args.kiosk_ui is not None:
        kiosk = kiosk_ui(fleet.devices[configs[0].device_id].agent, *args.kiosk_ui)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    rss_before = rss_bytes()
    fleet.start()
    if kiosk is not None:
        kiosk.start()
        logging.getLogger(__name__).info("kiosk UI at %s", kiosk.url)
    if args.report:
        FleetReporter(fleet, stop).start(rss_before)
    stop.wait()
    if kiosk is not None:
        kiosk.stop()
    fleet.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
