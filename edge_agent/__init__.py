"""The agent on every loudspeaker and kiosk: verifies manifests, caches media, plays on time."""

from importlib import metadata
from pathlib import Path

DISTRIBUTION = "thongtin-coso"
SOURCE_VERSION = "0.1.0"
"""The version reported when running from a source tree (pyproject.toml's)."""


def installed_version() -> str:
    """The version of the installed release this package was imported from (a wheel built by
    scripts/build_agent_release.py), or SOURCE_VERSION when it comes from a source tree."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return SOURCE_VERSION
    ours = Path(str(dist.locate_file("edge_agent/__init__.py")))
    if not ours.exists() or ours.resolve() != Path(__file__).resolve():
        return SOURCE_VERSION  # another copy is installed; this one is a source tree
    return dist.version


AGENT_VERSION = installed_version()
