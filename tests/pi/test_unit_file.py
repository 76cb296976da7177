"""deploy/pi/tt-agent.service: what keeps the agent running, and hardening that leaves ALSA and
the GPIO sysfs usable, and systemd-analyze's verdict on the unit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "pi" / "tt-agent.service"


def sections() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = found.setdefault(line[1:-1], {})
        elif "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key not in current, f"{key} set twice"
            current[key] = value
    return found


def test_the_unit_restarts_forever_and_is_watched() -> None:
    unit, service = sections()["Unit"], sections()["Service"]
    assert unit["StartLimitIntervalSec"] == "0"  # never "failed" for good
    assert {"network-online.target", "sound.target"} <= set(unit["After"].split())
    assert {"network-online.target", "sound.target"} <= set(unit["Wants"].split())
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "all"  # READY and WATCHDOG come from the launcher's child
    assert service["Restart"] == "always" and service["RestartSec"] == "2"
    assert int(service["WatchdogSec"]) >= 30
    assert service["ExecStart"] == ("/usr/bin/python3 /opt/tt-agent/launch.py --root "
                                    "/opt/tt-agent -- --config /etc/tt-agent/agent.json")
    assert sections()["Install"]["WantedBy"] == "multi-user.target"


def test_the_unit_is_hardened_without_hiding_the_sound_card_or_the_gpio() -> None:
    service = sections()["Service"]
    assert service["User"] == "tt-agent"
    assert set(service["SupplementaryGroups"].split()) == {"audio", "gpio"}
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"].split() == ["/var/lib/tt-agent", "/opt/tt-agent"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert service[key] == "yes", key
    # each of these would take /dev/snd, the GPIO chips or a writable /sys away
    for key in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock",
                "ProtectKernelTunables", "PrivateUsers"):
        assert key not in service, key
    assert "AF_UNIX" in service["RestrictAddressFamilies"]  # sd_notify, ALSA's IPC


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: ./run.sh test installs the systemd package"
    unit = tmp_path / "tt-agent.service"
    python = shutil.which("python3") or "/usr/bin/python3"  # verify wants ExecStart to exist
    unit.write_text(UNIT.read_text().replace("/usr/bin/python3 ", f"{python} "))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
