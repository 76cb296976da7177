"""The brokers the center connects to (GET /api/v1/brokers)."""

from __future__ import annotations

from pydantic import Field

from control_center.schemas.common import OutputModel


class BrokerPublic(OutputModel):
    name: str = Field(description='"main" (TT_MQTT_*) or a name of TT_BROKERS_FILE')
    device_url: str = Field(description="what its devices are given at enrolment")
    devices: int = Field(description="active devices whose account is on this broker")
    waiting: int = Field(description=(
        "of those, devices whose unit now names another broker: they move at their next "
        "enrolment"))
    connected: bool
    state: str = Field(description="idle, connecting, connected, disconnected, auth_failed "
                       "or stopped")
    last_error: str
