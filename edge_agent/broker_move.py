"""Where the agent connects after a ``move_broker`` command (docs/protocol.md).

The command's broker address is kept in ``<data_dir>/broker.json`` (0600) and overrides the
configuration's ``mqtt`` host, port and TLS from the next start on; its password becomes the
current one in ``credentials.json`` (``BrokerPasswords.replace``). Enrolling again removes the
file, so the configuration the enrolment writes is the one used.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

from edge_agent.config import MqttConfig
from edge_agent.credentials import BrokerPasswords
from protocol.secret_files import write_secret_file

log = logging.getLogger(__name__)

FILE_NAME = "broker.json"
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"


def broker_config(url: str, base: MqttConfig) -> MqttConfig:
    """``base`` pointed at ``url`` (mqtt:// or mqtts://host[:port])."""
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    return dataclasses.replace(
        base, host=parts.hostname or base.host, port=parts.port or (8883 if tls else 1883),
        tls_ca_file=(base.tls_ca_file or SYSTEM_CA) if tls else None)


def adopt_broker(data_dir: Path, passwords: BrokerPasswords, url: str, password: str) -> None:
    """Keep the new broker and its password for the next start (before acknowledging)."""
    write_secret_file(data_dir / FILE_NAME, json.dumps({"url": url}).encode())
    passwords.replace(password)
    log.warning("moved to the broker at %s: the agent restarts onto it", url)


def moved_config(data_dir: Path, base: MqttConfig) -> MqttConfig:
    """The configured broker, or the one a ``move_broker`` command named."""
    path = data_dir / FILE_NAME
    try:
        url = json.loads(path.read_text(encoding="utf-8")).get("url")
    except FileNotFoundError:
        return base
    except (OSError, ValueError, AttributeError) as exc:
        log.error("ignoring unreadable %s: %s", path, exc)
        return base
    if not isinstance(url, str) or urlsplit(url).scheme not in ("mqtt", "mqtts"):
        log.error("ignoring %s: no mqtt:// or mqtts:// url", path)
        return base
    return broker_config(url, base)
