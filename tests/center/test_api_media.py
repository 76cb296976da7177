"""Uploads (streamed, probed, deduplicated) and downloads by hash with Range."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.center.helpers import ok, upload
from tests.support.center import CenterHandle

pytestmark = pytest.mark.integration


def _leftovers(center: CenterHandle) -> list[str]:
    incoming = center.settings.media_dir / ".incoming"
    return sorted(os.listdir(incoming)) if incoming.exists() else []


def test_upload_probe_dedupe(center: CenterHandle, tone_wav: Path) -> None:
    sha = hashlib.sha256(tone_wav.read_bytes()).hexdigest()
    first = upload(center.api, tone_wav, name="bản tin.wav")
    body = ok(first, 201)
    assert body["sha256"] == sha
    assert (body["mime"], body["codec"], body["duration_ms"]) == ("audio/wav", "pcm_s16le", 1000)
    assert body["size"] == tone_wav.stat().st_size
    assert body["original_name"] == "bản tin.wav"
    assert body["url"] == f"{center.base_url}/api/v1/media/{sha}"
    assert (center.settings.media_dir / sha).read_bytes() == tone_wav.read_bytes()
    again = ok(upload(center.api, tone_wav, name="other.wav"), 200)
    assert again["sha256"] == sha and again["original_name"] == "bản tin.wav"
    listed = ok(center.api.get("/api/v1/media"))
    assert [m["sha256"] for m in listed["items"]].count(sha) == 1
    assert ok(center.api.get(f"/api/v1/media/{sha}/info"))["size"] == body["size"]
    assert _leftovers(center) == []


def test_download_supports_range_without_a_token(center: CenterHandle, tone_wav: Path) -> None:
    r = upload(center.api, tone_wav)
    assert r.status_code in (200, 201), r.text  # 200 when another test stored it already
    sha = r.json()["sha256"]
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
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=red:s=16x16", "-frames:v", "1", str(png)], check=True, timeout=60)
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
