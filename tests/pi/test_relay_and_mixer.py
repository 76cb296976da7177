"""The relay's GPIO value file (and the script that exports it at service start) and the
mixer, on a machine without a sound card."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from edge_agent.alsa import AmixerVolume, SysfsRelay
from tests.pi.conftest import AlsaFiles, need

pytestmark = pytest.mark.integration

RELAY_GPIO = Path(__file__).resolve().parents[2] / "deploy" / "pi" / "relay-gpio.sh"


def test_the_relay_writes_1_and_0_through_the_link_to_the_value_file(tmp_path: Path) -> None:
    value = tmp_path / "gpio529" / "value"
    value.parent.mkdir()
    value.write_text("0")
    link = tmp_path / "relay"
    link.symlink_to(value)
    relay = SysfsRelay(link)
    relay.set_power(True)
    assert value.read_text() == "1" and link.is_symlink()
    relay.set_power(False)
    assert value.read_text() == "0"
    SysfsRelay(None).set_power(True)  # no relay configured: nothing to switch, no error


def fake_gpio_tree(root: Path, *, label: str, base: int, exported: int) -> Path:
    """A GPIO sysfs layout as the kernel shows it once a line is exported."""
    chip = root / f"gpiochip{base}"
    chip.mkdir(parents=True)
    (chip / "label").write_text(label + "\n")
    (chip / "base").write_text(f"{base}\n")
    (root / "export").write_text("")
    line = root / f"gpio{exported}"
    line.mkdir()
    (line / "direction").write_text("in\n")
    (line / "value").write_text("1\n")
    return line


@pytest.mark.parametrize(("label", "base"), [("pinctrl-bcm2711", 512), ("pinctrl-rp1", 571)])
def test_relay_gpio_finds_the_line_under_the_chip_base_drives_it_low_and_links_it(
        tmp_path: Path, label: str, base: int) -> None:
    sysfs = tmp_path / "gpio"
    line = fake_gpio_tree(sysfs, label=label, base=base, exported=base + 17)
    link = tmp_path / "run" / "relay"
    link.parent.mkdir()
    done = subprocess.run([str(RELAY_GPIO), "17", str(link)], capture_output=True, text=True,
                          env={"GPIO_SYSFS": str(sysfs), "PATH": "/usr/bin:/bin"},
                          timeout=10, check=False)
    assert done.returncode == 0, done.stderr
    assert (line / "direction").read_text().strip() == "low"
    assert link.resolve() == (line / "value").resolve()
    assert (sysfs / "export").read_text() == ""  # already exported: not exported twice
    SysfsRelay(link).set_power(True)
    assert (line / "value").read_text() == "1"


@pytest.mark.parametrize("args", [[], ["seventeen", "/run/x"], ["99", "/run/x"]])
def test_relay_gpio_refuses_a_bad_line_with_its_usage(tmp_path: Path, args: list[str]) -> None:
    done = subprocess.run([str(RELAY_GPIO), *args], capture_output=True, text=True,
                          env={"GPIO_SYSFS": str(tmp_path), "PATH": "/usr/bin:/bin"},
                          timeout=10, check=False)
    assert done.returncode == 2 and "usage: relay-gpio.sh LINE LINK" in done.stderr


def test_without_a_mixer_the_volume_is_skipped_with_a_warning(
        alsa_files: AlsaFiles, caplog: pytest.LogCaptureFixture) -> None:
    """The file device has no mixer (no card here): the level is not applied, a warning says
    why, and nothing raises (the player sets the default volume at start-up)."""
    need("amixer", "alsa-utils")
    caplog.set_level(logging.WARNING, logger="edge_agent.alsa")
    AmixerVolume().set_level(70)
    assert "no ALSA mixer on default" in caplog.text
    assert "volume 70% not applied" in caplog.text
    caplog.clear()
    AmixerVolume("PCM").set_level(40)
    assert "amixer could not set PCM to 40%" in caplog.text


def test_without_amixer_the_volume_is_skipped_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    caplog.set_level(logging.WARNING, logger="edge_agent.alsa")
    AmixerVolume().set_level(55)
    assert "amixer not installed (apt-get install alsa-utils); volume 55% not applied" in (
        caplog.text)
