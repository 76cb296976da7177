"""Simulated devices: `agent --config FILE` (one device) or `fleet --config FILE...`."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from edge_agent.config import load_config
from edge_agent.errors import ConfigError
from firmware_sim.fleet import Fleet
from firmware_sim.report import FleetReporter, rss_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware_sim")
    sub = parser.add_subparsers(dest="cmd", required=True)
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.report else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    paths = args.config if isinstance(args.config, list) else [args.config]
    try:
        configs = [load_config(p) for p in paths]
    except ConfigError as exc:
        parser.error(str(exc))
    if args.play_log_dir:
        args.play_log_dir.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(configs, play_log_dir=args.play_log_dir, time_scale=args.time_scale,
                  ledger_path=args.ledger)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    rss_before = rss_bytes()
    fleet.start()
    if args.report:
        FleetReporter(fleet, stop).start(rss_before)
    stop.wait()
    fleet.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
