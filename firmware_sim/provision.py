"""Register the simulated fleet in a center and hand each device a one-time enrolment code.

    python -m firmware_sim provision --center http://control_center:8000 \\
        --api-token-file /center/api_token --enrol-dir /enrol \\
        --device speaker-1 --device speaker-2 --device kiosk-1:kiosk

What docker-compose.yml's ``provision`` service runs once the center is up. It waits for the
center's ``/healthz`` (connected to its broker), then, through the API with the API token
(``TT_API_TOKEN``, else the file the center writes in development):

1. creates the unit tree the simulation uses (a province and one commune below it), keyed by
   unit code: an existing unit is kept as it is;
2. registers each device in that commune: an existing device is kept as it is;
3. writes ``<enrol-dir>/<device>.code`` (mode 0600) with a fresh enrolment code for each device
   that has never enrolled and has no code file that is still valid. A device that enrolled
   is left alone (``--renew DEVICE`` asks a new code for it anyway, e.g. after its data volume
   was deleted).

Running it again therefore changes nothing. The last line on stdout is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from protocol.secret_files import write_secret_file

DEFAULT_DEVICES = ("speaker-1", "speaker-2", "kiosk-1:kiosk")
CODE_HOURS = 72.0  # the validity asked for each code
CODE_MARGIN_S = 3600.0  # a code file older than its validity minus this is replaced
_POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class UnitSpec:
    code: str
    name: str
    level: str


PROVINCE = UnitSpec(code="SIM", name="Tỉnh Mô Phỏng (simulation)", level="province")
COMMUNE = UnitSpec(code="SIM-XA-01", name="Xã Mô Phỏng (simulation)", level="commune")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    id: str
    kind: str = "speaker"

    @property
    def name(self) -> str:
        label = "Ki-ốt" if self.kind == "kiosk" else "Loa"
        return f"{label} mô phỏng {self.id}"


def parse_device(text: str) -> DeviceSpec:
    """``ID`` (a speaker) or ``ID:KIND`` with KIND ``speaker`` or ``kiosk``."""
    device_id, _, kind = text.partition(":")
    kind = kind or "speaker"
    if not device_id or kind not in ("speaker", "kiosk"):
        raise argparse.ArgumentTypeError(f"{text!r}: write ID or ID:speaker or ID:kiosk")
    return DeviceSpec(device_id, kind)


class ProvisionError(RuntimeError):
    """The center refused or did not answer; the message says what happened."""


@dataclass
class ProvisionReport:
    """What one run changed (all empty: nothing)."""

    created_units: list[str] = field(default_factory=list)
    created_devices: list[str] = field(default_factory=list)
    codes_written: list[str] = field(default_factory=list)
    not_active: list[str] = field(default_factory=list)  # retired or revoked: no code

    @property
    def changed(self) -> bool:
        return bool(self.created_units or self.created_devices or self.codes_written)


def _check(response: httpx.Response, what: str, expected: Sequence[int] = (200,)) -> Any:
    if response.status_code not in expected:
        raise ProvisionError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    return response.json()


class Provisioner:
    """The idempotent steps, through the center's API (``api``: base URL and bearer token)."""

    def __init__(self, api: httpx.Client, enrol_dir: Path, *,
                 clock: Callable[[], float] = time.time, busy_wait_s: float = 60.0) -> None:
        self.api = api
        self.enrol_dir = enrol_dir
        self.clock = clock
        self.busy_wait_s = busy_wait_s
        self.report = ProvisionReport()

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; a 503 (the center's broker or database busy, e.g. its account
        connection still starting) is retried for ``busy_wait_s``."""
        deadline = time.monotonic() + self.busy_wait_s
        while True:
            response = self.api.request(method, url, **kwargs)
            if response.status_code != 503 or time.monotonic() >= deadline:
                return response
            time.sleep(_POLL_S)

    def unit(self, spec: UnitSpec, parent_id: int | None) -> int:
        units = _check(self._call("GET", "/api/v1/units"), "listing units")["items"]
        for unit in units:
            if unit["code"] == spec.code:
                return int(unit["id"])
        created = _check(self._call("POST", "/api/v1/units", json={
            "code": spec.code, "name": spec.name, "level": spec.level, "parent_id": parent_id,
        }), f"creating unit {spec.code}", (201,))
        self.report.created_units.append(spec.code)
        return int(created["id"])

    def device(self, spec: DeviceSpec, unit_id: int) -> dict[str, Any]:
        found = self._call("GET", f"/api/v1/devices/{spec.id}")
        if found.status_code != 404:
            device: dict[str, Any] = _check(found, f"reading device {spec.id}")
            return device
        created: dict[str, Any] = _check(self._call("POST", "/api/v1/devices", json={
            "id": spec.id, "name": spec.name, "kind": spec.kind, "unit_id": unit_id,
        }), f"registering device {spec.id}", (201,))
        self.report.created_devices.append(spec.id)
        return created

    def code_file(self, device_id: str) -> Path:
        return self.enrol_dir / f"{device_id}.code"

    def code(self, device: dict[str, Any], *, renew: bool) -> None:
        device_id = device["id"]
        if device.get("state", "active") != "active":
            self.report.not_active.append(device_id)
            return
        if not renew and (device.get("enrolled_at") or self._fresh(self.code_file(device_id))):
            return
        answer = _check(self._call("POST", f"/api/v1/devices/{device_id}/enrolment-codes",
                                        json={"valid_hours": CODE_HOURS}),
                        f"asking an enrolment code for {device_id}", (201,))
        write_secret_file(self.code_file(device_id), (answer["code"] + "\n").encode())
        self.report.codes_written.append(device_id)

    def _fresh(self, path: Path) -> bool:
        try:
            age = self.clock() - path.stat().st_mtime
        except FileNotFoundError:
            return False
        return age < CODE_HOURS * 3600 - CODE_MARGIN_S

    def run(self, devices: Sequence[DeviceSpec], renew: Sequence[str] = ()) -> ProvisionReport:
        province = self.unit(PROVINCE, None)
        commune = self.unit(COMMUNE, province)
        for spec in devices:
            self.code(self.device(spec, commune), renew=spec.id in renew)
        return self.report


def wait_healthy(center: str, timeout_s: float) -> None:
    """Until the center answers ``/healthz`` connected to its broker (device accounts are
    created through it), or ProvisionError."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(center.rstrip("/") + "/healthz", timeout=5.0)
            if answer.status_code == 200 and answer.json()["mqtt"]["connected"]:
                return
            last = f"HTTP {answer.status_code} {answer.text[:200]}"
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            last = str(exc)
        time.sleep(_POLL_S)
    raise ProvisionError(f"the center at {center} was not ready within {timeout_s:g} s: {last}")


def api_token(token_file: Path | None, environ: Mapping[str, str]) -> str:
    """``TT_API_TOKEN``, else the token the center wrote into ``token_file``."""
    token = environ.get("TT_API_TOKEN", "").strip()
    if token:
        return token
    if token_file is None:
        raise ProvisionError("no API token: set TT_API_TOKEN or pass --api-token-file")
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ProvisionError(f"cannot read the API token from {token_file}: {exc} (set "
                             "TT_API_TOKEN, or mount the center's data directory)") from exc
    if not token:
        raise ProvisionError(f"{token_file} is empty")
    return token


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware_sim provision",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--center", required=True, help="the center's base URL")
    parser.add_argument("--api-token-file", type=Path, default=None,
                        help="the center's development API token (when TT_API_TOKEN is unset)")
    parser.add_argument("--enrol-dir", type=Path, required=True,
                        help="where <device>.code files are written")
    parser.add_argument("--device", dest="devices", type=parse_device, action="append",
                        help="ID or ID:kiosk, repeated (default: "
                             f"{' '.join(DEFAULT_DEVICES)})")
    parser.add_argument("--renew", action="append", default=[], metavar="DEVICE",
                        help="write a new code for DEVICE even if it enrolled already")
    parser.add_argument("--wait", type=float, default=300.0,
                        help="seconds to wait for the center to be ready")
    args = parser.parse_args(argv)
    devices = args.devices or [parse_device(d) for d in DEFAULT_DEVICES]
    unknown = sorted(set(args.renew) - {d.id for d in devices})
    if unknown:
        parser.error(f"--renew names devices not provisioned here: {unknown}")
    try:
        wait_healthy(args.center, args.wait)
        token = api_token(args.api_token_file, os.environ)
        with httpx.Client(base_url=args.center.rstrip("/"), timeout=30.0,
                          headers={"Authorization": f"Bearer {token}"}) as api:
            report = Provisioner(api, args.enrol_dir).run(devices, args.renew)
    except (ProvisionError, httpx.HTTPError) as exc:
        print(f"provisioning failed: {exc}", file=sys.stderr)
        return 2
    for device_id in report.not_active:
        print(f"{device_id} is retired or revoked: no code (give a new simulated device a new "
              "id)", file=sys.stderr)
    print(json.dumps({"changed": report.changed, **asdict(report)}))
    return 0
