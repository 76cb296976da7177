"""Uploads (streamed, validated, deduplicated, processed in the worker) and downloads by hash."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from control_center.db import create_db_engine, session_factory
from control_center.models import MediaAsset, MediaState
from firmware_sim.broker import MosquittoBroker
from tests.center.helpers import ok, ready_media, upload, wait_processed
from tests.support.center import CenterHandle, running_center
from tests.support.waiting import poll

pytestmark = pytest.mark.integration


def _leftovers(center: CenterHandle) -> list[str]:
    incoming = center.settings.media_dir / ".incoming"
    found = sorted(os.listdir(incoming)) if incoming.exists() else []
    return found + sorted(p.name for p in center.settings.media_dir.rglob(".part-*"))


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


def test_upload_is_processed_into_a_delivery_file_once(
    center: CenterHandle, tmp_path: Path
) -> None:
    wav = tmp_path / "quiet.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:duration=3:sample_rate=22050",
            "-af", "volume=-20dB", "-ac", "2", str(wav))
    sha = hashlib.sha256(wav.read_bytes()).hexdigest()
    first = ok(upload(center.api, wav, name="bản tin.wav", wait=False), 202)
    assert (first["sha256"], first["state"], first["delivery"]) == (sha, "processing", None)
    assert (first["mime"], first["codec"], first["duration_ms"]) == ("audio/wav", "pcm_s16le", 3000)
    assert first["url"] == f"{center.base_url}/api/v1/media/{sha}"

    info = wait_processed(center.api, sha)
    assert info["state"] == "ready" and info["error"] is None and info["progress"] is None
    delivery = info["delivery"]
    kind = (delivery["format"], delivery["mime"], delivery["codec"])
    assert kind == ("opus", "audio/ogg", "opus")
    assert (delivery["bitrate"], delivery["duration_ms"]) == (32000, 3000)
    assert abs(delivery["loudness_lufs"] + 16) <= 1 and delivery["true_peak_dbtp"] <= -1.5
    assert info["source_lufs"] < -35
    assert [r["format"] for r in info["renditions"]] == ["opus", "mp3"]

    with httpx.Client(base_url=center.base_url) as anon:
        for rendition in info["renditions"]:
            got = anon.get(f"/api/v1/media/{rendition['sha256']}")
            assert got.status_code == 200 and got.headers["content-type"] == rendition["mime"]
            assert hashlib.sha256(got.content).hexdigest() == rendition["sha256"]
            assert len(got.content) == rendition["size"]
        assert anon.get(f"/api/v1/media/{sha}").content == wav.read_bytes()  # the original
        png = anon.get(info["waveform_url"].removeprefix(center.base_url))
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

    again = ok(upload(center.api, wav, name="other.wav"), 200)
    assert (again["sha256"], again["state"], again["original_name"]) == (sha, "ready",
                                                                       "bản tin.wav")
    assert again["delivery"] == delivery
    listed = ok(center.api.get("/api/v1/media"))
    assert [m["sha256"] for m in listed["items"]].count(sha) == 1
    assert _leftovers(center) == []


def test_short_clip_is_ready_when_the_upload_answers(center: CenterHandle, tmp_path: Path) -> None:
    wav = tmp_path / "ngan.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=500:duration=2:sample_rate=16000", str(wav))
    body = ok(upload(center.api, wav), 201)
    assert body["state"] == "ready" and body["delivery"]["duration_ms"] == 2000
    assert ok(upload(center.api, wav), 200)["delivery"] == body["delivery"]


def test_download_supports_range_without_a_token(center: CenterHandle, tone_wav: Path) -> None:
    sha = ready_media(center.api, tone_wav)["sha256"]
    data = tone_wav.read_bytes()
    with httpx.Client(base_url=center.base_url) as anon:
        whole = anon.get(f"/api/v1/media/{sha}")
        assert whole.status_code == 200
        assert whole.content == data
        assert whole.headers["content-type"] == "audio/wav"
        assert whole.headers["accept-ranges"] == "bytes"
        head = anon.head(f"/api/v1/media/{sha}")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(data))
        part = anon.get(f"/api/v1/media/{sha}", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        assert part.content == data[100:200]
        tail = anon.get(f"/api/v1/media/{sha}", headers={"Range": f"bytes={len(data) - 10}-"})
        assert tail.status_code == 206
        assert tail.content == data[-10:]
        beyond = anon.get(f"/api/v1/media/{sha}", headers={"Range": f"bytes={len(data) + 5}-"})
        assert beyond.status_code == 416
        assert anon.get(f"/api/v1/media/{'0' * 64}").status_code == 404
        assert anon.get("/api/v1/media/not-a-hash").status_code == 422
        assert anon.get(f"/api/v1/media/{sha}/info").status_code == 401


def test_silent_upload_fails_and_cannot_be_broadcast(center: CenterHandle, tmp_path: Path) -> None:
    wav = tmp_path / "im-lang.wav"
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3", str(wav))
    sha = ok(upload(center.api, wav, wait=False), 202)["sha256"]
    info = wait_processed(center.api, sha)
    assert info["state"] == "failed" and info["renditions"] == []
    assert info["error"].startswith("the audio is silent (below -50 dBFS) for 100% of its 3.0 s")
    assert not (center.settings.media_dir / sha).exists()  # nothing half-made is kept
    r = center.api.post("/api/v1/bulletins", json={"title": "Im lặng", "media_sha256": sha})
    assert r.status_code == 422
    assert r.json()["detail"].startswith(f"media {sha} could not be processed (the audio is")
    again = upload(center.api, wav)  # a new try, waited for: refused with the reason
    assert again.status_code == 422
    assert again.json()["detail"].startswith("not a usable audio file: the audio is silent")
    assert wait_processed(center.api, sha)["state"] == "failed"
    assert _leftovers(center) == []


def test_bulletin_waits_for_media_still_processing(center: CenterHandle) -> None:
    sha = "5" * 64
    with center.center.sessions() as session:  # a row as the upload leaves it, never processed
        session.add(MediaAsset(sha256=sha, size=1, mime="audio/wav", duration_ms=1000,
                               codec="pcm_s16le", original_name="x.wav",
                               created_at=datetime.now(UTC), state=MediaState.PROCESSING))
        session.commit()
    r = center.api.post("/api/v1/bulletins", json={"title": "Chờ", "media_sha256": sha})
    assert r.status_code == 422
    assert r.json()["detail"] == (f"media {sha} is still being processed: wait until GET "
                                  f"/api/v1/media/{sha}/info says state=ready, then try again")


def test_too_long_is_refused_at_upload(center: CenterHandle, tmp_path: Path) -> None:
    wav = tmp_path / "dai.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=duration=2:sample_rate=8000", str(wav))
    worker = center.center.media
    original = worker.config
    worker.config = dataclasses.replace(original, max_seconds=1.5)
    try:
        r = upload(center.api, wav)
    finally:
        worker.config = original
    assert r.status_code == 422
    assert r.json()["detail"] == ("too long: the audio lasts 2.0 s, longer than the limit of 1.5 s "
                                  "(TT_MEDIA_MAX_SECONDS): split it into shorter bulletins")
    assert _leftovers(center) == []


def test_text_file_renamed_mp3_is_refused(center: CenterHandle, tmp_path: Path) -> None:
    fake = tmp_path / "ban-tin.mp3"
    fake.write_text("Đây là văn bản, không phải âm thanh.\n" * 50)
    r = upload(center.api, fake)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("not a usable audio file: the file cannot be read")
    sha = hashlib.sha256(fake.read_bytes()).hexdigest()
    assert not (center.settings.media_dir / sha).exists()
    assert _leftovers(center) == []


def test_picture_is_unsupported_media(center: CenterHandle, tmp_path: Path) -> None:
    png = tmp_path / "anh.png"
    _ffmpeg("-f", "lavfi", "-i", "color=c=red:s=16x16", "-frames:v", "1", str(png))
    r = upload(center.api, png)
    assert r.status_code == 415
    assert "no audio track (detected format: png_pipe)" in r.json()["detail"]
    assert _leftovers(center) == []


def test_too_large_upload_is_413(center: CenterHandle, tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    big.write_bytes(os.urandom(1_500_000))  # the test center caps uploads at 1 MB
    r = upload(center.api, big)
    assert r.status_code == 413
    assert "exceeds the limit" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streaming check must catch it
        boundary = b"--b0undary"
        yield boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n'
        for _ in range(30):
            yield os.urandom(64 * 1024)
        yield b"\r\n" + boundary + b"--\r\n"

    r = center.api.post("/api/v1/media", content=chunks(),
                        headers={"Content-Type": "multipart/form-data; boundary=b0undary"})
    assert r.status_code == 413
    assert _leftovers(center) == []


def test_upload_without_file_field(center: CenterHandle) -> None:
    r = center.api.post("/api/v1/media", files={"audio": ("a.wav", b"abc", "audio/wav")})
    assert (r.status_code, r.json()["detail"]) == (422, "the multipart body has no field named "
                                                        "'file'")
    r = center.api.post("/api/v1/media", json={"file": "x"})
    assert r.status_code == 422
    assert "multipart/form-data" in r.json()["detail"]


def _spoken(center: CenterHandle, text: str) -> dict[str, Any]:
    """POST the text (202 with a pending job at once), then poll the job until it is over."""
    job = ok(center.api.post("/api/v1/media/speech", json={"text": text}), 202)
    assert (job["state"], job["sha256"], job["media"]) == ("pending", None, None)
    assert job["status_url"] == f"/api/v1/media/speech/{job['id']}"
    return poll(lambda: ok(center.api.get(job["status_url"])),
                lambda j: j["state"] != "pending", 30, f"speech job {job['id']}")


def test_text_to_speech_is_a_job_polled_until_done(center: CenterHandle) -> None:
    text = "UBND xã thông báo: 17h30 ngày 2/9 họp dân tại nhà văn hóa."
    done = _spoken(center, text)
    assert (done["state"], done["error"]) == ("done", None)
    media = done["media"]
    assert media["sha256"] == done["sha256"]
    assert (media["state"], media["mime"], media["original_name"]) == ("ready", "audio/wav",
                                                                       text[:60])
    assert media["duration_ms"] > 3000
    assert media["delivery"]["duration_ms"] == media["duration_ms"]
    assert _spoken(center, text)["sha256"] == done["sha256"]  # the same text, the same media
    longer = _spoken(center, text + " Đề nghị bà con đến đúng giờ.")
    assert longer["media"]["duration_ms"] > media["duration_ms"]
    bulletin = ok(center.api.post("/api/v1/bulletins", json={
        "title": "Họp dân", "media_sha256": done["sha256"]}))
    assert bulletin["media_sha256"] == done["sha256"]
    r = center.api.post("/api/v1/media/speech", json={"text": "  "})
    assert r.status_code == 422
    assert _leftovers(center) == []


def test_speech_over_the_length_cap_and_unknown_jobs_are_refused(center: CenterHandle) -> None:
    before = ok(center.api.get("/api/v1/media"))["count"]
    r = center.api.post("/api/v1/media/speech", json={"text": "Thông báo. " * 1000})
    assert r.status_code == 422, r.text
    assert "body.text: String should have at most 5000 characters" in r.json()["detail"]
    assert ok(center.api.get("/api/v1/media"))["count"] == before
    r = center.api.get(f"/api/v1/media/speech/{'0' * 32}")
    assert r.status_code == 404 and "speech job" in r.json()["detail"]
    assert center.api.get("/api/v1/media/speech/not-a-job").status_code == 422


def test_processing_resumes_after_a_restart(
    module_broker: MosquittoBroker, tmp_path: Path, tone_wav: Path
) -> None:
    data = tmp_path / "center"
    options = {"mqtt_host": module_broker.host, "mqtt_port": module_broker.center_port,
               "mqtt_password": module_broker.center_password, "mqtt_client_id": "cc-resume"}
    with running_center(data, **options) as first:
        media_dir = first.settings.media_dir
        database_url = first.settings.database_url
    sha = hashlib.sha256(tone_wav.read_bytes()).hexdigest()
    shutil.copyfile(tone_wav, media_dir / sha)  # as a center stopped mid-processing leaves it
    engine = create_db_engine(database_url)
    with session_factory(engine)() as session:
        session.add(MediaAsset(sha256=sha, size=tone_wav.stat().st_size, mime="audio/wav",
                               duration_ms=1000, codec="pcm_s16le", original_name="tone.wav",
                               created_at=datetime.now(UTC), state=MediaState.PROCESSING))
        session.commit()
    engine.dispose()
    with running_center(data, **options) as second:
        info = wait_processed(second.api, sha)
    assert info["state"] == "ready" and info["delivery"]["mime"] == "audio/ogg"
