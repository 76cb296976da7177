"""Installing a speech model archive by path or URL, checked by SHA-256 before extraction.

The same path a Vietnamese kiosk takes with ``vosk-model-small-vn-0.4``, run with the Korean
model (the one a registry here carries), zipped here and served by a local HTTP server.
"""

from __future__ import annotations

import functools
import hashlib
import io
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from control_center.telemetry.lineproto import health_line, series_tags
from edge_agent.clock import SystemClock
from edge_agent.config import HealthConfig
from edge_agent.health import AgentFacts, HealthSampler, SystemReadings
from edge_agent.speech import ModelUnavailable, SpeechError, load_model
from edge_agent.speech.__main__ import main as speech_cli
from edge_agent.speech.install import KNOWN_MODELS, install_archive, installed_hash
from edge_agent.speech.status import SpeechModelStatus, model_status
from media.pinned import load_pins
from protocol.telemetry import HealthReport, SpeechModelState
from tests.feedback.conftest import ko_model_path

ARCHIVE = "vosk-model-small-ko-0.22.zip"


@pytest.fixture(scope="module")
def ko_zip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The Korean model zipped as Vosk publishes models, and its SHA-256."""
    source = ko_model_path()
    archive = tmp_path_factory.mktemp("archives") / ARCHIVE
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for file in sorted(source.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                zf.write(file, Path("vosk-model-small-ko-0.22") / file.relative_to(source))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    return archive, digest


@pytest.fixture(scope="module")
def served(ko_zip: tuple[Path, str]) -> Iterator[str]:
    """The base URL of a local HTTP server holding the archive."""
    handler = functools.partial(_QuietHandler, directory=str(ko_zip[0].parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_install_from_a_path_with_its_hash_then_check_loads_it(
    ko_zip: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive, digest = ko_zip
    dest = tmp_path / "speech" / "current"
    assert speech_cli(["install", str(archive), str(dest), "--sha256", digest.upper(),
                       "--no-load"]) == 0
    assert f"sha256 {digest}" in capsys.readouterr().out
    assert installed_hash(dest) == digest
    assert speech_cli(["check", str(dest)]) == 0  # a real Vosk load


def test_install_from_a_url_checks_the_pinned_hash(
    ko_zip: tuple[Path, str], served: str, tmp_path: Path
) -> None:
    archive, digest = ko_zip
    pins = tmp_path / "pins.toml"
    pins.write_text(f'[[file]]\nname = "vosk-model-small-ko-0.22"\nfile = "{ARCHIVE}"\n'
                    f'url = "{served}/{ARCHIVE}"\nsha256 = "{digest}"\n', encoding="utf-8")
    dest = tmp_path / "speech" / "current"
    progress = io.StringIO()
    assert install_archive(f"{served}/{ARCHIVE}", dest, known=pins, try_load=False,
                           progress=progress) == digest
    assert "(100%)" in progress.getvalue()
    assert (dest / "am" / "final.mdl").stat().st_size == (
        ko_model_path() / "am" / "final.mdl").stat().st_size
    assert [p.name for p in dest.parent.iterdir()] == ["current"]  # the download is not kept
    assert load_model(dest).knows("물")


def test_a_wrong_hash_is_refused_before_extraction_and_the_old_model_stays(
    ko_zip: tuple[Path, str], served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive, digest = ko_zip
    dest = tmp_path / "current"
    (dest / "am").mkdir(parents=True)
    (dest / "am" / "final.mdl").write_bytes(b"the installed model")
    wrong = "0" * 64
    for source in (str(archive), f"{served}/{ARCHIVE}"):
        assert speech_cli(["install", source, str(dest), "--sha256", wrong]) == 2
        err = capsys.readouterr().err
        assert f"expected {wrong}, got {digest}" in err and "nothing was installed" in err
    assert (dest / "am" / "final.mdl").read_bytes() == b"the installed model"
    assert [p.name for p in tmp_path.iterdir()] == ["current"]  # no staging left behind
    with pytest.raises(SpeechError, match="is not a SHA-256"):
        install_archive(str(archive), dest, sha256="abc")


def test_an_unknown_archive_without_sha256_is_refused(
    ko_zip: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "current"
    assert speech_cli(["install", str(ko_zip[0]), str(dest)]) == 2
    assert "not in the pinned list" in capsys.readouterr().err
    assert not dest.exists()


def test_the_vietnamese_model_is_listed_and_needs_the_deployers_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pin = load_pins(KNOWN_MODELS)["vosk-model-small-vn-0.4.zip"]
    assert pin.language == "vi" and pin.url.startswith("https://alphacephei.com/")
    assert pin.sha256 is None  # no published checksum: the deployer pins it with --sha256
    # refused before any download: the URL is never fetched
    assert speech_cli(["install", pin.url, str(tmp_path / "current")]) == 2
    assert "to be pinned by the deployer" in capsys.readouterr().err
    with pytest.raises(ModelUnavailable):
        load_model(tmp_path / "current")


def test_the_health_report_carries_the_models_name_and_state(
    ko_zip: tuple[Path, str], tmp_path: Path
) -> None:
    archive, digest = ko_zip
    dest = tmp_path / "current"
    install_archive(str(archive), dest, sha256=digest, try_load=False, progress=None)
    found = model_status(dest)
    assert found == SpeechModelStatus(f"vosk-model-small-ko-0.22 sha256:{digest[:12]}",
                                      SpeechModelState.INSTALLED)
    assert model_status(dest, load_error="could not be loaded").state is SpeechModelState.FAILED
    assert model_status(tmp_path / "none").state is SpeechModelState.MISSING
    (dest / "am" / "final.mdl").write_bytes(b"")  # damaged after installation
    assert model_status(dest).state is SpeechModelState.FAILED

    reports: list[HealthReport] = []
    sampler = HealthSampler(
        device_id="kiosk-1", data_dir=tmp_path, config=HealthConfig(), probe=_NoSensors(),
        facts=AgentFacts(amp_on=lambda: False, volume=lambda: 0, cache_bytes=lambda: 0,
                         manifest_version=lambda: None, agent_version="test",
                         speech_model=lambda: found),
        clock=SystemClock(), emit=reports.append)
    sampler.sample_now()
    sample = reports[0].samples[0]
    assert (sample.speech_model, sample.speech_model_state) == (found.label, found.state)
    again = HealthReport.model_validate_json(reports[0].model_dump_json()).samples[0]
    assert again.speech_model_state is SpeechModelState.INSTALLED  # survives the wire
    line = health_line(sample, series_tags("kiosk-1", "kiosk", 1))
    assert f'speech_model="{found.label}"' in line and 'speech_model_state="installed"' in line


class _NoSensors:
    def read(self, data_dir: Path) -> SystemReadings:
        return SystemReadings()
