"""Agent releases, rollouts and the versions the fleet runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, model_validator

from control_center.models import RolloutDeviceState, RolloutState
from control_center.schemas.common import InputModel, OutputModel
from control_center.schemas.content import Targets
from protocol.events import UpdateStage
from protocol.release import ReleaseFile

DEFAULT_WAVES = (10, 40, 50)
MAX_WAVES = 20
Percent = Annotated[int, Field(gt=0, le=100)]


class ReleasePublic(OutputModel):
    version: str
    created_at: datetime
    created_by: str
    notes: str
    manifest_url: str
    manifest_sha256: str
    files: list[ReleaseFile]
    total_bytes: int
    devices_running: int = Field(description="active devices of your subtree running it")


class RolloutCreate(InputModel):
    """Offer ``version`` to the devices of ``targets``, wave after wave: ``waves`` (shares in
    per cent, summing to 100) or ``wave_units`` (the units whose subtrees make each wave)."""

    version: str = Field(min_length=1, max_length=64)
    targets: Targets
    waves: list[Percent] | None = Field(default=None, min_length=1, max_length=MAX_WAVES,
                                        description="default [10, 40, 50]")
    wave_units: list[list[int]] | None = Field(default=None, min_length=1,
                                               max_length=MAX_WAVES)
    failure_threshold_pct: float = Field(default=2.0, ge=0, le=100, description=(
        "halt when rolled-back, failed and timed-out devices exceed this share of the "
        "devices sent so far"))
    confirm_within_s: int = Field(default=300, ge=30, le=3600)

    @model_validator(mode="after")
    def _one_wave_plan(self) -> RolloutCreate:
        if self.waves is not None and self.wave_units is not None:
            raise ValueError("give either waves (percentages) or wave_units (unit ids per "
                             "wave), not both")
        if self.waves is not None and sum(self.waves) != 100:
            raise ValueError(f"the waves' percentages must sum to 100, not {sum(self.waves)}")
        if self.wave_units is not None and not all(self.wave_units):
            raise ValueError("every wave of wave_units needs at least one unit id")
        return self

    def plan(self) -> list[int] | None:
        """The percentages (the default plan when neither is given), or None for units."""
        if self.wave_units is not None:
            return None
        return list(self.waves) if self.waves is not None else list(DEFAULT_WAVES)


class WaveProgress(OutputModel):
    wave: int = Field(description="1-based")
    devices: int
    sent: int
    confirmed: int
    failed: int = Field(description="rolled back, failed or timed out")
    pending: int = Field(description="sent, no end reported yet")


class RolloutDevicePublic(OutputModel):
    device_id: str
    unit_id: int
    wave: int | None
    from_version: str
    state: RolloutDeviceState
    stage: UpdateStage | None
    reason: str
    command_id: str | None
    sent_at: datetime | None
    stage_at: datetime | None
    ended_at: datetime | None
    download_ms: int | None
    install_ms: int | None
    restart_ms: int | None
    confirm_ms: int | None = Field(description="from the command to its end")


class RolloutPublic(OutputModel):
    id: int
    version: str
    state: RolloutState
    reason: str
    created_at: datetime
    created_by: str
    unit_id: int | None
    targets: Targets
    waves: list[int] | None
    wave_units: list[list[int]] | None
    failure_threshold_pct: float
    confirm_within_s: int
    current_wave: int = Field(description="the last wave sent (0: none yet)")
    halted_at: datetime | None
    completed_at: datetime | None
    progress: list[WaveProgress]
    skipped: int = Field(description="devices already on the version")
    devices: list[RolloutDevicePublic] | None = Field(
        default=None, description="per device (single-rollout answers only)")


class UnitCount(OutputModel):
    unit_id: int
    devices: int


class VersionCount(OutputModel):
    version: str = Field(description="as reported in the agents' status; empty: never reported")
    devices: int
    online: int
    units: list[UnitCount]
