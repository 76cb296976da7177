"""Agent releases: the signed release manifest an ``update`` command points to.

The center seals a ``ReleaseManifest`` like any manifest (``protocol.signing.Signer``); the
agent fetches it from ``ReleaseRef.manifest_url``, checks its SHA-256 against the command and
its signature against the trusted keys, then fetches each file from ``files_base_url + name``
and checks size and SHA-256 before installing anything.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from protocol.base import FrozenModel, UtcDatetime

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
WheelName = Annotated[str, Field(min_length=5, max_length=200,
                                 pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*\.whl$")]


class ReleaseFile(FrozenModel):
    """One wheel of the release."""

    name: WheelName
    sha256: Sha256Hex
    size: int = Field(gt=0)


class ReleaseManifest(FrozenModel):
    """Everything an agent needs to install a version side by side."""

    type: Literal["release"] = "release"
    v: Literal[1] = 1
    version: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z.+_-]+$")
    created_at: UtcDatetime
    files_base_url: str = Field(min_length=1, max_length=2000)  # ends with "/"
    files: tuple[ReleaseFile, ...] = Field(min_length=1, max_length=200)
    notes: str = Field(default="", max_length=2000)
