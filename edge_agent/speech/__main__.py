"""Speech tools: python -m edge_agent.speech install|check|words ..."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_agent.speech.errors import SpeechError
from edge_agent.speech.install import install_archive
from edge_agent.speech.model import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_agent.speech")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_install = sub.add_parser(
        "install", help="install a model from a folder, or a .zip by path or http(s) URL, "
        "checked by SHA-256 (pinned in known_models.toml, or --sha256) before extraction")
    p_install.add_argument("source", help="a model folder, a .zip, or an http(s) URL of one")
    p_install.add_argument("dest", type=Path, help="the agent's speech.model_path")
    p_install.add_argument("--sha256", help="the archive's SHA-256 (required when not pinned)")
    p_install.add_argument("--no-load", action="store_true", help="check files only")
    p_check = sub.add_parser("check", help="load a model and report")
    p_check.add_argument("model", type=Path)
    p_words = sub.add_parser("words", help="report words missing from a model's vocabulary")
    p_words.add_argument("model", type=Path)
    p_words.add_argument("phrases", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "install":
            digest = install_archive(args.source, args.dest, sha256=args.sha256,
                                     try_load=not args.no_load)
            print(f"installed {args.dest}" + (f" (sha256 {digest})" if digest else ""))
        elif args.cmd == "check":
            load_model(args.model)
            print(f"ok: {args.model}")
        else:
            missing = load_model(args.model).missing_words(args.phrases)
            if missing:
                print("missing: " + " ".join(missing))
                return 1
            print("all words known")
    except SpeechError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
