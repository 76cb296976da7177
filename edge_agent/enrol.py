"""Enrol a device: trade a one-time code for the agent's configuration.

    python -m edge_agent enrol --center https://center.example --code ABCDE-FGHIJ-...
    python -m edge_agent enrol --center URL --code-file /boot/firmware/tt-enrol.txt

The center answers with the device's id, its broker address and password (this once) and the
center's public keys; the configuration is written with mode 0600. A used code file is renamed
``<name>.used`` so the next boot does not try it again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from edge_agent.config import config_from_dict
from edge_agent.errors import ConfigError
from protocol.secret_files import write_secret_file

DEFAULT_CONFIG = Path("/etc/tt-agent/agent.json")
DEFAULT_DATA_DIR = Path("/var/lib/tt-agent")


class EnrolError(RuntimeError):
    """Enrolment failed; the message says what to do."""


def request_enrolment(center: str, code: str, *, timeout_s: float = 30.0) -> dict[str, Any]:
    """POST the code to the center; the parsed answer, or EnrolError with the center's words."""
    url = center.rstrip("/") + "/api/v1/enrol"
    try:
        response = httpx.post(url, json={"code": code}, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise EnrolError(f"cannot reach the center at {url}: {exc}") from exc
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text[:300]
        raise EnrolError(f"the center refused the code (HTTP {response.status_code}): {detail}")
    answer = response.json()
    if not isinstance(answer, dict):
        raise EnrolError("the center's answer is not a JSON object")
    return answer


def agent_config(answer: dict[str, Any], *, data_dir: Path,
                 tls_ca_file: str | None = None) -> dict[str, Any]:
    """The agent's configuration from the center's answer (checked by the agent's own parser)."""
    mqtt = answer["mqtt"]
    config: dict[str, Any] = {
        "device_id": answer["device_id"],
        "kind": answer.get("kind", "speaker"),
        "data_dir": str(data_dir),
        "center_public_keys": list(answer["center_public_keys"]),
        "center_url": answer.get("center_url", ""),
        "mqtt": {"host": mqtt["host"], "port": int(mqtt["port"]),
                 "username": mqtt["username"], "password": mqtt["password"]},
        "health": {"time_url": answer.get("time_url")},
    }
    if mqtt.get("tls"):
        config["mqtt"]["tls_ca_file"] = tls_ca_file or "/etc/ssl/certs/ca-certificates.crt"
    return config


def enrol(center: str, code: str, *, config_path: Path, data_dir: Path, force: bool = False,
          tls_ca_file: str | None = None) -> dict[str, Any]:
    """Enrol and write the configuration; refuses to overwrite one unless ``force``."""
    if config_path.exists() and not force:
        raise EnrolError(f"{config_path} exists: this device is enrolled already (use --force "
                         "to enrol it again with a new code)")
    answer = request_enrolment(center, code)
    try:
        config = agent_config(answer, data_dir=data_dir, tls_ca_file=tls_ca_file)
        config_from_dict(dict(config))
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise EnrolError(f"the center's answer is not a usable configuration: {exc}") from exc
    write_secret_file(config_path, (json.dumps(config, indent=2) + "\n").encode())
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("credentials.json", "trusted_keys.json", "broker.json"):  # earlier ones
        (data_dir / stale).unlink(missing_ok=True)
    return config


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_agent enrol",
                                     description="Enrol this device with a one-time code.")
    parser.add_argument("--center", required=True, help="the center's address, https://...")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--code", help="the enrolment code (dashes and case do not matter)")
    source.add_argument("--code-file", type=Path, help="a file holding the code")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--tls-ca-file", help="CA certificates for the broker's TLS")
    parser.add_argument("--force", action="store_true", help="replace an existing config")
    args = parser.parse_args(argv)
    code = args.code
    if args.code_file is not None:
        try:
            code = args.code_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            parser.error(f"cannot read {args.code_file}: {exc}")
    try:
        config = enrol(args.center, code, config_path=args.config, data_dir=args.data_dir,
                       force=args.force, tls_ca_file=args.tls_ca_file)
    except EnrolError as exc:
        print(f"enrolment failed: {exc}", file=sys.stderr)
        return 2
    if args.code_file is not None:
        args.code_file.replace(args.code_file.with_name(args.code_file.name + ".used"))
    print(f"enrolled as {config['device_id']}; configuration written to {args.config}")
    return 0
