"""A release's own environment beside the running one: a venv with the release's wheels.

The environment is built in ``releases/.<version>.installing`` (``python3 -m venv
--without-pip``, then every wheel unpacked by the ``installer`` library: no pip, no network)
and renamed to ``releases/<version>`` only when whole; a check then starts its Python and
imports the agent. Releases other than ``current`` and ``previous`` are pruned.

It is also the first install on a device, run from the release's wheels alone (no agent yet):

    PYTHONPATH=DIR/thongtin_coso-V-py3-none-any.whl:DIR/installer-1.1.0-py3-none-any.whl \\
        python3 -m edge_agent.update.install --root /opt/tt-agent --wheels DIR --activate
"""

from __future__ import annotations

import argparse
import errno
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.sources import WheelFile

from edge_agent.update.errors import UpdateError
from edge_agent.update.launch import Layout, copy_launcher

DISTRIBUTION_WHEEL = re.compile(r"^thongtin_coso-(?P<version>[^-]+)-py3-none-any\.whl$")
CHECK_TIMEOUT_S = 120.0
_CHECK = ("import edge_agent, edge_agent.agent, edge_agent.update.commands; "
          "print(edge_agent.AGENT_VERSION)")


def _python_dir() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def site_packages(env: Path) -> Path:
    return env / "lib" / _python_dir() / "site-packages"


def install_release(layout: Layout, version: str, wheels: Sequence[Path]) -> Path:
    """Build ``releases/<version>`` from ``wheels``; return its directory. The current and
    previous releases are never touched; any other is pruned first (disk space)."""
    if version in (layout.current_version(), layout.previous_version()):
        raise UpdateError(f"release {version} is the current or previous one: not reinstalled")
    layout.releases.mkdir(parents=True, exist_ok=True)
    prune_releases(layout)
    final = layout.release_dir(version)
    building = layout.releases / f".{version}.installing"
    try:
        shutil.rmtree(building, ignore_errors=True)
        venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(building)
        purelib = str(site_packages(building))
        destination = SchemeDictionaryDestination(
            {"purelib": purelib, "platlib": purelib, "headers": str(building / "include"),
             "scripts": str(building / "bin"), "data": str(building)},
            interpreter=str(final / "bin" / "python"), script_kind="posix")
        for wheel in wheels:
            with WheelFile.open(wheel) as source:
                install(source, destination, {"INSTALLER": b"tt-agent-update"})
        shutil.rmtree(final, ignore_errors=True)
        building.rename(final)
    except OSError as exc:
        shutil.rmtree(building, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise UpdateError(f"disk full while installing {version} under {layout.releases}; "
                              "nothing was switched") from exc
        raise UpdateError(f"cannot install {version}: {exc}") from exc
    except (InstallerError, ValueError, KeyError) as exc:  # a malformed wheel
        shutil.rmtree(building, ignore_errors=True)
        raise UpdateError(f"cannot install {version}: {type(exc).__name__}: {exc}") from exc
    return final


def check_release(layout: Layout, version: str, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Start the release's Python and import the agent: it must report ``version``."""
    python = layout.release_dir(version) / "bin" / "python"
    try:
        done = subprocess.run([str(python), "-I", "-c", _CHECK], capture_output=True,
                              text=True, timeout=timeout_s, check=False, cwd=layout.root)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UpdateError(f"release {version} does not start: {exc}") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise UpdateError(f"release {version} does not import: {last[-300:]}")
    reported = done.stdout.strip()
    if reported != version:
        raise UpdateError(f"release {version} reports version {reported!r}: refused")


def prune_releases(layout: Layout) -> list[str]:
    """Delete every release directory but the current and previous ones."""
    keep = {layout.current_version(), layout.previous_version()}
    removed = []
    if layout.releases.is_dir():
        for entry in layout.releases.iterdir():
            if entry.name not in keep and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
    return removed


def launcher_of(layout: Layout, version: str) -> Path:
    """The launcher file a release carries (what the root's ``launch.py`` is a copy of)."""
    return site_packages(layout.release_dir(version)) / "edge_agent" / "update" / "launch.py"


def release_wheels(folder: Path) -> tuple[str, list[Path]]:
    """The version of the agent's wheel in ``folder`` and every wheel there."""
    wheels = sorted(folder.glob("*.whl"))
    versions = [m["version"] for w in wheels if (m := DISTRIBUTION_WHEEL.match(w.name))]
    if len(versions) != 1:
        raise UpdateError(f"{folder} must hold exactly one thongtin_coso-*.whl "
                          f"(found {len(versions)})")
    return versions[0], wheels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_agent.update.install",
                                     description="Install an agent release under a managed root.")
    parser.add_argument("--root", type=Path, required=True, help="managed root, e.g. /opt/tt-agent")
    parser.add_argument("--wheels", type=Path, required=True,
                        help="folder with the release's wheels (scripts/build_agent_release.py)")
    parser.add_argument("--activate", action="store_true",
                        help="make it current and install its launch.py (a first install)")
    parser.add_argument("--force", action="store_true",
                        help="with --activate: replace an existing current release")
    args = parser.parse_args(argv)
    layout = Layout(args.root.absolute())
    try:
        version, wheels = release_wheels(args.wheels)
        if args.activate and layout.current_version() and not args.force:
            raise UpdateError(f"{layout.root} already runs {layout.current_version()}: updates "
                              "go through the center (or use --force)")
        if args.force and version == layout.current_version():
            layout.unlink(layout.current)
        install_release(layout, version, wheels)
        check_release(layout, version)
        if args.activate:
            layout.point(layout.current, version)
            copy_launcher(layout, launcher_of(layout, version))
    except UpdateError as exc:
        print(f"install failed: {exc}", file=sys.stderr)
        return 1
    print(f"installed {version} under {layout.release_dir(version)}"
          + (" (current)" if args.activate else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
