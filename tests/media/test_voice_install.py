"""Installing a Piper voice by path or URL, verified by SHA-256 before use (no voice downloaded:
a small stand-in voice whose hashes the test computes)."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from media.cli import main as media_cli
from media.errors import MediaError
from media.pinned import load_pins
from media.tts.voice_install import CHECKSUMS, KNOWN_VOICES, install_voice

MODEL = b"not a real onnx graph, only bytes to hash" * 100
CONFIG = json.dumps({"audio": {"sample_rate": 22050}, "espeak": {"voice": "vi"}}).encode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("published")
    (folder / "vi_VN-test-low.onnx").write_bytes(MODEL)
    (folder / "vi_VN-test-low.onnx.json").write_bytes(CONFIG)
    (folder / "broken.onnx").write_bytes(MODEL)
    (folder / "broken.onnx.json").write_bytes(b"{}")
    return folder


@pytest.fixture(scope="module")
def served(published: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(published))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_install_by_path_with_hashes_prints_the_tts_command(
    published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voices = tmp_path / "voices"
    assert media_cli(["install-voice", str(published / "vi_VN-test-low.onnx"), str(voices),
                      "--sha256", _sha(MODEL), "--config-sha256", _sha(CONFIG)]) == 0
    out = capsys.readouterr().out
    assert (voices / "vi_VN-test-low.onnx").read_bytes() == MODEL
    assert (voices / "vi_VN-test-low.onnx.json").read_bytes() == CONFIG
    assert f'TT_TTS_COMMAND="piper --model {voices / "vi_VN-test-low.onnx"} --output_file ' \
           '{out}"' in out
    assert f"{_sha(MODEL)}  vi_VN-test-low.onnx" in (voices / CHECKSUMS).read_text()


def test_install_by_url_checks_the_pinned_hashes(served: str, tmp_path: Path) -> None:
    pins = tmp_path / "voices.toml"
    pins.write_text("".join(
        f'[[file]]\nname = "{n}"\nfile = "{n}"\nurl = "{served}/{n}"\nsha256 = "{_sha(d)}"\n\n'
        for n, d in (("vi_VN-test-low.onnx", MODEL), ("vi_VN-test-low.onnx.json", CONFIG))))
    progress = io.StringIO()
    voice = install_voice(f"{served}/vi_VN-test-low.onnx", tmp_path / "voices", known=pins,
                          progress=progress)
    assert voice.model.read_bytes() == MODEL and voice.config_sha256 == _sha(CONFIG)
    assert "(100%)" in progress.getvalue()
    assert sorted(p.name for p in (tmp_path / "voices").iterdir()) == [
        CHECKSUMS, "vi_VN-test-low.onnx", "vi_VN-test-low.onnx.json"]  # nothing else left


def test_a_mismatch_or_a_bad_config_is_refused_and_the_installed_voice_stays(
    published: Path, served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "vi_VN-test-low.onnx").write_bytes(b"the voice in use")
    wrong = "f" * 64
    for source in (str(published / "vi_VN-test-low.onnx"), f"{served}/vi_VN-test-low.onnx"):
        assert media_cli(["install-voice", source, str(voices), "--sha256", wrong,
                          "--config-sha256", _sha(CONFIG)]) == 2
        assert f"expected {wrong}, got {_sha(MODEL)}" in capsys.readouterr().err
    with pytest.raises(MediaError, match="not a Piper voice config"):
        install_voice(str(published / "broken.onnx"), voices, sha256=_sha(MODEL),
                      config_sha256=_sha(b"{}"), progress=None)
    assert [p.name for p in voices.iterdir()] == ["vi_VN-test-low.onnx"]
    assert (voices / "vi_VN-test-low.onnx").read_bytes() == b"the voice in use"


def test_an_unpinned_voice_needs_its_hashes(
    published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert media_cli(["install-voice", str(published / "vi_VN-test-low.onnx"),
                      str(tmp_path / "voices"), "--sha256", _sha(MODEL)]) == 2
    assert "vi_VN-test-low.onnx.json is not in the pinned list" in capsys.readouterr().err
    pins = load_pins(KNOWN_VOICES)
    assert {"vi_VN-vais1000-medium.onnx", "vi_VN-vais1000-medium.onnx.json",
            "vi_VN-25hours_single-low.onnx", "vi_VN-vivos-x_low.onnx"} <= pins.keys()
    vais = pins["vi_VN-vais1000-medium.onnx"]
    assert media_cli(["install-voice", vais.url, str(tmp_path / "voices")]) == 2  # no download
    assert "to be pinned by the deployer" in capsys.readouterr().err
    assert not (tmp_path / "voices").exists()
