"""Kiosk UI configuration (the ``kiosk`` section of the agent's JSON config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_agent.errors import ConfigError


@dataclass(frozen=True, slots=True)
class KioskConfig:
    host: str = "127.0.0.1"  # Chromium in kiosk mode on the same Pi
    port: int = 8080  # 0: any free port (tests)
    max_submissions_per_hour: int = 10  # against floods; the center flags beyond its own limit
    answer_phrases: tuple[str, ...] = ("có", "không")  # grammar for yes/no questions
    keep_recordings_days: int = 30  # recordings kept with consent are deleted after this
    # other names the UI is reached by (besides localhost, 127.0.0.1, [::1] and ``host``);
    # requests naming any other host are refused (DNS rebinding)
    server_names: tuple[str, ...] = ()


def kiosk_config_from_dict(data: object) -> KioskConfig:
    if data is None:
        return KioskConfig()
    if not isinstance(data, dict):
        raise ConfigError("section 'kiosk' must be an object")
    values: dict[str, Any] = dict(data)
    if "answer_phrases" in values:
        values["answer_phrases"] = tuple(str(p) for p in values["answer_phrases"])
    if "server_names" in values:
        values["server_names"] = tuple(str(n) for n in values["server_names"])
    try:
        return KioskConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"section 'kiosk': {exc}") from exc
