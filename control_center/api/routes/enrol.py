"""A device trades its one-time enrolment code for its broker credential and the center's
public keys. Public: the code is the credential. Wrong codes are rate-limited per address."""

from __future__ import annotations

import logging
from math import ceil

from fastapi import APIRouter, Request, Response

from control_center.api.deps import CenterDep, NowDep, SessionDep, client_ip
from control_center.errors import CenterError, NotFound, TooManyAttempts
from control_center.feedback.throttle import Rate, TokenBuckets
from control_center.schemas.enrolment import BrokerAccess, Enrolment, EnrolRequest
from control_center.services import enrolment
from control_center.workers.runtime import Center

log = logging.getLogger(__name__)
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
                                   source_ip=address, brokers=center.brokers.registry.names)
    except NotFound:
        buckets.take(address, now)
        raise
    settings = center.settings
    device = enrolled.device
    if enrolled.moved_from is not None:
        _leave_old_broker(center, device.id, enrolled.moved_from)
    broker = center.brokers.registry.get(device.broker)
    response.headers["Cache-Control"] = "no-store"
    return Enrolment(
        device_id=device.id, name=device.name, kind=device.kind.value,
        center_url=settings.public_base_url, time_url=f"{settings.public_base_url}/api/v1/time",
        mqtt=BrokerAccess(url=broker.device_url, host=broker.device_host,
                          port=broker.device_port, tls=broker.device_tls,
                          username=device.id, password=enrolled.password, client_id=device.id),
        center_public_keys=center.trusted_public_keys(),
    )


def _leave_old_broker(center: Center, device_id: str, broker: str) -> None:
    """The device moved to its unit's broker: remove its account from the one it left (when
    that fails, that broker's reconciler disables the account, which no device there owns)."""
    try:
        center.brokers.accounts.on(broker).delete(device_id)
    except (CenterError, KeyError) as exc:
        log.warning("device %s moved off broker %s, whose account was not removed: %s",
                    device_id, broker, exc)
