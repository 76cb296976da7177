"""A simulated device's first boot: enrol with the code file when there is no config yet.

``python -m firmware_sim agent --config /data/agent.json --enrol-center URL --code-file F``
calls :func:`ensure_enrolled` before starting the agent: an existing config is used as it is
(later starts); otherwise the code file is awaited (the provisioner writes it), traded for the
config by the same :func:`edge_agent.enrol.enrol` a real device runs, and renamed
``<name>.used``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from edge_agent.enrol import EnrolError, enrol

log = logging.getLogger(__name__)
_POLL_S = 0.5


def wait_for_code(code_file: Path, timeout_s: float) -> str:
    """The code in ``code_file``, waiting up to ``timeout_s`` for it to appear."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            code = code_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            code = ""
        if code:
            return code
        if time.monotonic() >= deadline:
            raise EnrolError(
                f"no configuration and no enrolment code in {code_file} after {timeout_s:g} s "
                "(docker compose: the provision service writes it; for a device that enrolled "
                "before, run it with --renew DEVICE)")
        time.sleep(_POLL_S)


def ensure_enrolled(config_path: Path, *, center: str, code_file: Path, data_dir: Path,
                    wait_s: float) -> bool:
    """Enrol unless ``config_path`` exists; True when this call enrolled the device."""
    if config_path.exists():
        return False
    code = wait_for_code(code_file, wait_s)
    config = enrol(center, code, config_path=config_path, data_dir=data_dir)
    code_file.replace(code_file.with_name(code_file.name + ".used"))
    log.info("enrolled as %s; configuration written to %s", config["device_id"], config_path)
    return True
