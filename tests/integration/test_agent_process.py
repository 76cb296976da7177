"""An agent process killed mid-download resumes, verifies, and never plays a bad file."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

from firmware_sim.broker import MosquittoBroker
from firmware_sim.hardware import read_play_log
from protocol.codec import decode_event
from protocol.events import MediaFailed, MediaReady
from protocol.manifest import AudioContent, Manifest, PlayItem
from protocol.signing import Signer, public_key_b64
from protocol.topics import Channel, device_topic
from tests.support.asgi_server import serve_asgi
from tests.support.audio import make_tone, sha256_of
from tests.support.mqtt import MqttClients, MqttTestClient
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
DEVICE = "loa-proc-1"
REPO = Path(__file__).resolve().parents[2]


class AgentProcess:
    def __init__(self, config_path: Path, log_dir: Path) -> None:
        self.config_path, self.log_dir = config_path, log_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.log_dir / "agent.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "firmware_sim",
                    "agent",
                    "--config",
                    str(self.config_path),
                    "--play-log-dir",
                    str(self.log_dir),
                ],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def setup(tmp_path: Path, broker: MosquittoBroker, mqtt_clients: MqttClients) -> Iterator[tuple]:
    served = tmp_path / "served"
    served.mkdir()
    wav = make_tone(served / "ban-tin.wav", 20.0)  # ~640 kB
    signer = Signer(Ed25519PrivateKey.generate())
    password = secrets.token_urlsafe(16)
    broker.add_user(DEVICE, password)
    center = mqtt_clients.center()
    center.subscribe(device_topic(DEVICE, Channel.EVENT))
    data_dir = tmp_path / "agent"
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    app = Starlette()
    app.mount("/media", StaticFiles(directory=served))
    with serve_asgi(app) as base_url:
        content = AudioContent(
            sha256=sha256_of(wav),
            url=f"{base_url}/media/{wav.name}",
            size=wav.stat().st_size,
            duration_ms=1000,
            mime="audio/wav",
        )

        def write_config(rate: int) -> Path:
            path = tmp_path / f"agent-{rate}.json"
            path.write_text(
                json.dumps(
                    {
                        "device_id": DEVICE,
                        "data_dir": str(data_dir),
                        "center_public_keys": [public_key_b64(signer.public_key)],
                        "mqtt": {"host": broker.host, "port": broker.port, "password": password},
                        "cache": {"rate_limit_bps": rate, "chunk_bytes": 8192, "retry_min_s": 0.2},
                    }
                )
            )
            return path

        procs: list[AgentProcess] = []
        yield signer, center, content, data_dir, log_dir, write_config, procs
        for p in procs:
            p.stop()


def events(center: MqttTestClient) -> list[object]:
    return [
        decode_event(m.payload) for m in center.received_on(device_topic(DEVICE, Channel.EVENT))
    ]


@pytest.mark.parametrize("corrupt_partial", [False, True], ids=["resume", "corrupt-partial"])
def test_killed_mid_download_resumes_and_plays_only_the_verified_file(
    setup, corrupt_partial: bool
) -> None:  # type: ignore[no-untyped-def]
    signer, center, content, data_dir, log_dir, write_config, procs = setup
    start = datetime.now(UTC) + timedelta(seconds=12)
    item = PlayItem(item_id="i-1", bulletin_id=1, title="Bản tin", start_at=start, content=content)
    manifest = Manifest(device_id=DEVICE, version=1, issued_at=datetime.now(UTC), items=(item,))
    center.publish(device_topic(DEVICE, Channel.MANIFEST), signer.seal(manifest), retain=True)

    slow = AgentProcess(write_config(100_000), log_dir)  # ~6 s for the whole file
    procs.append(slow)
    slow.start()
    part = data_dir / "media" / f"{content.sha256}.part"
    wait_until(lambda: part.exists() and part.stat().st_size > 150_000, 20, "a partial download",
               interval=0.02)  # a file growing on disk: kill the agent well before it is complete
    slow.kill()
    held = part.stat().st_size
    assert 0 < held < content.size
    assert not (data_dir / "media" / content.sha256).exists()
    if corrupt_partial:
        with part.open("r+b") as fh:
            fh.seek(1000)
            fh.write(b"\xde\xad\xbe\xef" * 256)

    fast = AgentProcess(write_config(0), log_dir)
    procs.append(fast)
    fast.start()
    play_log = log_dir / f"{DEVICE}.plays.jsonl"
    wait_until(lambda: len(read_play_log(play_log)) >= 1, 40, "the play")
    (record,) = read_play_log(play_log)
    assert record.file_sha256 == content.sha256 == record.expected_sha256
    assert abs(record.started_at - start.timestamp()) < 0.1
    center.wait_for_message(device_topic(DEVICE, Channel.EVENT))
    wait_until(lambda: any(isinstance(e, MediaReady) for e in events(center)), 10, "media_ready")
    ready = [e for e in events(center) if isinstance(e, MediaReady)]
    failed = [e for e in events(center) if isinstance(e, MediaFailed)]
    if corrupt_partial:
        assert failed and "verification failed" in failed[0].reason
        assert ready[-1].resumed_from == 0  # started again from scratch
    else:
        assert not failed
        assert ready[-1].resumed_from >= held - 8192  # resumed, not re-downloaded
