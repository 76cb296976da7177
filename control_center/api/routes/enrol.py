"""A device trades its one-time enrolment code for its broker credential and the center's
public keys. Public: the code is the credential. Wrong codes are rate-limited per address."""

from __future__ import annotations

from math import ceil
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response

from control_center.api.deps import CenterDep, NowDep, SessionDep, client_ip
from control_center.errors import NotFound, TooManyAttempts
from control_center.feedback.throttle import Rate, TokenBuckets
from control_center.schemas.enrolment import BrokerAccess, Enrolment, EnrolRequest
from control_center.services import enrolment

router = APIRouter(tags=["devices"])
WRONG_CODES = Rate(burst=10, per_minute=5)  # per address; only wrong codes count


def _wrong_codes(request: Request) -> TokenBuckets:
    buckets = getattr(request.app.state, "enrol_wrong_codes", None)
    if not isinstance(buckets, TokenBuckets):
        buckets = TokenBuckets(WRONG_CODES)
        request.app.state.enrol_wrong_codes = buckets
    return buckets


@router.post("/enrol", response_model=Enrolment)
def enrol(
    data: EnrolRequest, request: Request, response: Response, session: SessionDep,
    center: CenterDep, now: NowDep,
) -> Enrolment:
    """The device's id, its broker address and credential (this once), and the keys its
    manifests and commands are signed with."""
    address = client_ip(request) or "unknown"
    buckets = _wrong_codes(request)
    wait = buckets.wait(address, now)
    if wait > 0:
        raise TooManyAttempts("quá nhiều mã sai / too many wrong enrolment codes from this "
                              "address: wait, then check the code", retry_after_s=ceil(wait))
    try:
        enrolled = enrolment.enrol(session, center.accounts, code=data.code, now=now,
                                   source_ip=address)
    except NotFound:
        buckets.take(address, now)
        raise
    settings = center.settings
    broker = urlsplit(settings.device_mqtt_url)
    tls = broker.scheme == "mqtts"
    device = enrolled.device
    response.headers["Cache-Control"] = "no-store"
    return Enrolment(
        device_id=device.id, name=device.name, kind=device.kind.value,
        center_url=settings.public_base_url, time_url=f"{settings.public_base_url}/api/v1/time",
        mqtt=BrokerAccess(url=settings.device_mqtt_url, host=broker.hostname or "",
                          port=broker.port or (8883 if tls else 1883), tls=tls,
                          username=device.id, password=enrolled.password, client_id=device.id),
        center_public_keys=center.trusted_public_keys(),
    )
