"""The steps of an update before any switch, against a real HTTP server (Range supported):
the signed release manifest checked against the command, a cut download resumed, a file that
does not verify deleted, the commands that cannot start refused, and a full disk."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

from edge_agent.clock import SystemClock
from edge_agent.config import AgentConfig, UpdateConfig
from edge_agent.resumable import Transfer
from edge_agent.supervision import Heartbeats
from edge_agent.update.commands import UpdateCommands
from edge_agent.update.download import fetch_file, fetch_release
from edge_agent.update.errors import UpdateError
from edge_agent.update.install import launcher_of
from edge_agent.update.launch import Layout, Outcome, Trial
from edge_agent.update.report import UpdateReporter
from edge_agent.update.trial import HealthChecks, TrialWatcher, player_stalled
from protocol.events import CommandOutcome, UpdateReport, UpdateStage
from protocol.manifest import Command, ReleaseRef, UpdateAgent
from protocol.release import ReleaseFile, ReleaseManifest
from protocol.signing import Signer, Verifier, public_key_b64
from tests.support.asgi_server import serve_asgi
from tests.support.tmpfs import small_disk
from tests.support.waiting import wait_until

WHEEL = "thongtin_coso-9.9.9-py3-none-any.whl"


@dataclass
class Served:
    base_url: str
    folder: Path
    signer: Signer
    wheel: ReleaseFile

    def ref(self, name: str, version: str = "9.9.9") -> ReleaseRef:
        raw = (self.folder / name).read_bytes()
        return ReleaseRef(version=version, manifest_url=f"{self.base_url}/{name}",
                          manifest_sha256=hashlib.sha256(raw).hexdigest())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    body = secrets.token_bytes(300_000)
    (folder / WHEEL).write_bytes(body)
    wheel = ReleaseFile(name=WHEEL, sha256=hashlib.sha256(body).hexdigest(), size=len(body))
    signer = Signer(Ed25519PrivateKey.generate())
    app = Starlette()
    app.mount("/", StaticFiles(directory=folder))
    with serve_asgi(app) as base_url:
        release = ReleaseManifest(version="9.9.9", created_at=datetime.now(UTC),
                                  files_base_url=f"{base_url}/", files=(wheel,))
        (folder / "release.json").write_bytes(signer.seal(release))
        stranger = Signer(Ed25519PrivateKey.generate())
        (folder / "forged.json").write_bytes(stranger.seal(release))
        yield Served(base_url, folder, signer, wheel)


def test_the_release_manifest_must_match_the_command_and_the_center_key(
        served: Served) -> None:
    verifier = Verifier([served.signer.public_key])
    with httpx.Client() as http:
        release = fetch_release(http, served.ref("release.json"), verifier)
        assert release.files == (served.wheel,)
        wrong = served.ref("release.json").model_copy(update={"manifest_sha256": "0" * 64})
        with pytest.raises(UpdateError, match="the command names 000000000000: refused"):
            fetch_release(http, wrong, verifier)
        with pytest.raises(UpdateError, match="release manifest refused: SignatureInvalid"):
            fetch_release(http, served.ref("forged.json"), verifier)
        with pytest.raises(UpdateError, match="is for version 9.9.9, the command names 1.0"):
            fetch_release(http, served.ref("release.json", version="1.0"), verifier)


def test_a_cut_download_resumes_and_a_file_that_does_not_verify_is_deleted(
        served: Served, tmp_path: Path) -> None:
    body = (served.folder / WHEEL).read_bytes()
    (tmp_path / f"{WHEEL}.part").write_bytes(body[:100_000])
    url = f"{served.base_url}/{WHEEL}"
    with httpx.Client() as http:
        got = fetch_file(http, url, served.wheel, tmp_path, Transfer(chunk_bytes=8192))
        assert got.resumed_from == 100_000
        assert got.path.read_bytes() == body
        assert not (tmp_path / f"{WHEEL}.part").exists()
        lying = served.wheel.model_copy(update={"sha256": "f" * 64})
        got.path.unlink()
        with pytest.raises(UpdateError, match="verification failed.*the file was deleted"):
            fetch_file(http, url, lying, tmp_path, Transfer())
    assert list(tmp_path.iterdir()) == []


@dataclass
class Device:
    """An agent's update side in-process, with the acknowledgements and reports it sent."""

    layout: Layout
    data_dir: Path
    acks: list[tuple[str, CommandOutcome, str]] = field(default_factory=list)
    reports: list[UpdateReport] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)

    def commands(self, signer: Signer, running: str = "1.0") -> UpdateCommands:
        config = AgentConfig(device_id="loa-upd", data_dir=self.data_dir,
                             center_public_keys=(public_key_b64(signer.public_key),),
                             update=UpdateConfig(root=str(self.layout.root)))
        reporter = UpdateReporter(device_id="loa-upd", running_version=running,
                                  clock=SystemClock(), emit=self.reports.append)
        return UpdateCommands(
            config=config, layout=self.layout, verifier=Verifier([signer.public_key]),
            reporter=reporter, ack=lambda *a: self.acks.append(a),
            restart=self.restarts.append, drained=lambda _: True,
            prefix=str(self.layout.release_dir(running)))


def _command(ref: ReleaseRef) -> Command:
    now = datetime.now(UTC)
    return Command(id=uuid.uuid4().hex, device_id="loa-upd", issued_at=now,
                   expires_at=now + timedelta(minutes=5),
                   action=UpdateAgent(release=ref, rollout_id=4))


@pytest.fixture
def device(tmp_path: Path) -> Device:
    layout = Layout(tmp_path / "root")
    layout.release_dir("1.0").mkdir(parents=True)
    return Device(layout, tmp_path / "data")


def _take(commands: UpdateCommands, ref: ReleaseRef) -> bool:
    cmd = _command(ref)
    assert isinstance(cmd.action, UpdateAgent)
    return commands.take(cmd, cmd.action)


def test_an_update_that_cannot_start_is_refused_with_the_reason(
        served: Served, device: Device) -> None:
    layout = device.layout
    commands = device.commands(served.signer)
    assert not _take(commands, served.ref("release.json"))  # no current release
    layout.point(layout.current, "1.0")
    assert not _take(commands, served.ref("release.json", version="1.0"))
    with layout.editing() as state:
        state.trial = Trial(version="2.0", from_version="1.0", deadline=0.0,
                            confirm_within_s=60, started_at=0.0)
    assert not _take(commands, served.ref("release.json"))
    reasons = [reason for _, outcome, reason in device.acks if outcome == CommandOutcome.REJECTED]
    assert len(reasons) == 3
    assert reasons[0].startswith("not installed under a managed root:")
    assert reasons[1] == "version 1.0 is already running"
    assert reasons[2] == "another update (to 2.0) is in progress"
    assert device.reports == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")
def test_a_full_disk_fails_the_update_and_switches_nothing(
        served: Served, device: Device) -> None:
    layout = device.layout
    layout.point(layout.current, "1.0")
    with small_disk(device.data_dir, size_mb=1) as disk:
        disk.fill()
        cmd = _command(served.ref("release.json"))
        assert isinstance(cmd.action, UpdateAgent)
        commands = device.commands(served.signer)
        assert commands.take(cmd, cmd.action)
        wait_until(lambda: device.reports, 15, "the update's report")
        commands.stop()
        disk.free()
    assert device.acks == [(cmd.id, CommandOutcome.ACCEPTED, "")]
    (report,) = device.reports
    assert report.stage == UpdateStage.FAILED and report.rollout_id == 4
    assert report.reason.startswith("disk full")
    assert report.reason.endswith("nothing was switched")
    assert layout.current_version() == "1.0" and layout.read_state().trial is None
    assert device.restarts == []


def _watcher(device: Device, running: str, checks: HealthChecks) -> TrialWatcher:
    reporter = UpdateReporter(device_id="loa-upd", running_version=running,
                              clock=SystemClock(), emit=device.reports.append)
    return TrialWatcher(layout=device.layout, reporter=reporter, checks=checks, poll_s=0.02)


def test_a_version_on_trial_says_what_it_lacks_then_confirms_once_healthy(
        device: Device) -> None:
    layout = device.layout
    launcher = launcher_of(layout, "2.0")
    launcher.parent.mkdir(parents=True)
    launcher.write_text("# the launcher of release 2.0\n")
    layout.point(layout.previous, "1.0")
    layout.point(layout.current, "2.0")
    with layout.editing() as state:
        state.trial = Trial(version="2.0", from_version="1.0", deadline=time.time() + 60,
                            confirm_within_s=60, started_at=time.time() - 5, rollout_id=4,
                            command_id="c-1")
    manifest = threading.Event()
    watcher = _watcher(device, "2.0", HealthChecks(
        connected=lambda: True, manifest_verified=manifest.is_set,
        player_problem=lambda: None))
    watcher.start()
    try:
        wait_until(lambda: (t := layout.read_state().trial) and t.waiting_for, 5,
                   "what the trial lacks")
        trial = layout.read_state().trial
        assert trial is not None and trial.waiting_for == "no manifest verified"
        manifest.set()
        assert watcher.confirmed.wait(5)
    finally:
        watcher.stop()
    state = layout.read_state()
    assert state.trial is None and state.last is not None
    assert state.last.result == "confirmed" and state.last.reported
    (report,) = device.reports
    assert report.stage == UpdateStage.CONFIRMED and report.version == "2.0"
    assert report.running_version == "2.0" and report.rollout_id == 4
    assert report.duration_ms is not None and report.duration_ms >= 5000
    assert layout.launcher.read_text() == "# the launcher of release 2.0\n"


def test_a_trial_being_rolled_back_is_never_confirmed_and_the_old_version_reports_it(
        device: Device) -> None:
    layout = device.layout
    with layout.editing() as state:
        state.trial = Trial(version="2.0", from_version="1.0", deadline=time.time() + 60,
                            confirm_within_s=60, started_at=time.time(),
                            rollback_reason="not healthy within 60 s: no manifest verified")
    healthy = HealthChecks(connected=lambda: True, manifest_verified=lambda: True,
                           player_problem=lambda: None)
    late = _watcher(device, "2.0", healthy)
    late.start()
    late._thread.join(5)  # it ends by itself: the launcher's rollback has begun
    assert not late._thread.is_alive() and not late.confirmed.is_set()
    assert layout.read_state().trial is not None and device.reports == []
    with layout.editing() as state:
        state.trial = None
        state.last = Outcome(version="2.0", from_version="1.0", result="rolled_back",
                             reason="not healthy within 60 s: no manifest verified",
                             at=time.time(), started_at=time.time() - 61, command_id="c-2")
    for _ in range(2):  # a second start of the old version does not report it again
        old = _watcher(device, "1.0", healthy)
        old.start()
        wait_until(lambda: (last := layout.read_state().last) and last.reported, 5,
                   "the rollback reported")
        old.stop()
    (report,) = device.reports
    assert report.stage == UpdateStage.ROLLED_BACK and report.version == "2.0"
    assert report.running_version == "1.0"
    assert report.reason == "not healthy within 60 s: no manifest verified"
    assert report.duration_ms is not None and report.duration_ms >= 60_000


def test_the_player_check_is_the_loop_going_round() -> None:
    now = [100.0]
    heartbeats = Heartbeats(monotonic=lambda: now[0])
    check = player_stalled(heartbeats, stall_after_s=120)
    assert check() == "the player loop has not gone round"
    heartbeats.beat("player")
    assert check() is None
    now[0] += 121
    assert check() == "the player has not advanced for 121 s"
