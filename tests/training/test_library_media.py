"""A lesson can name a sound of the media library (``media:<sha256>``): it must be a ready
asset (processed by ``media/``) and the lesson page plays its Opus delivery rendition."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.center.helpers import wait_processed
from tests.support.audio import make_tone
from tests.support.center import CenterHandle
from tests.training.conftest import SAMPLE
from tests.training.helpers import as_officer, folder_zip, officer, ok, unit
from tests.training.test_forum import _page_client

pytestmark = pytest.mark.integration


def _import(center: CenterHandle, folder: Path) -> tuple[int, dict[str, object]]:
    r = center.api.post("/api/v1/training/courses/import",
                        files={"file": ("c.zip", folder_zip(folder), "application/zip")})
    return r.status_code, r.json()


def test_lesson_plays_a_library_sound_through_its_delivery_rendition(
        tmp_path: Path, center: CenterHandle) -> None:
    folder = tmp_path / "course"
    shutil.copytree(SAMPLE, folder)
    wav = make_tone(tmp_path / "tone.wav", 1.0)
    upload = center.api.post("/api/v1/media", params={"wait": "true"},
                             files={"file": ("tone.wav", wav.read_bytes(), "audio/wav")})
    assert upload.status_code in (200, 201, 202), upload.text
    sha = upload.json()["sha256"]
    lesson = folder / "lessons" / "02-len-lich-phat.md"
    lesson.write_text(lesson.read_text() + f"\nNghe bản tin đã chuẩn hóa: [bản tin](media:{sha})\n")
    line = len(lesson.read_text().splitlines())

    info = wait_processed(center.api, sha)
    assert info["state"] == "ready", info
    status, body = _import(center, folder)
    assert status == 201, body
    course = body["course"]
    lesson_id = course["lessons"][1]["id"]  # type: ignore[index]
    o = officer(center.api, unit(center.api, "commune"))
    with _page_client(center, o) as pages:
        page = pages.get(f"/monitor/training/lessons/{lesson_id}")
        assert page.status_code == 200
        delivery = info["delivery"]["sha256"]
        assert f'src="/api/v1/media/{delivery}"' in page.text
        assert pages.get(f"/api/v1/media/{delivery}").status_code == 200

    # An unknown library sound is refused with the lesson's file and line.
    lesson.write_text(lesson.read_text().replace(sha, "0" * 64))
    status, body = _import(center, folder)
    assert status == 422
    assert body["detail"].startswith(  # type: ignore[union-attr]
        f"course refused: lessons/02-len-lich-phat.md:{line}: unknown media: media:{'0' * 64}")


def test_forum_posts_mention_units_and_attach_library_sounds(tmp_path: Path,
                                                            center: CenterHandle) -> None:
    api = center.api
    province = unit(api, "province")
    commune, other = unit(api, "commune", province), unit(api, "commune", province)
    writer, reader, bystander = (officer(api, province), officer(api, commune),
                                 officer(api, other))
    forum_id = ok(api.post("/api/v1/forum/categories",
                           json={"unit_id": province["id"], "name": "Diễn đàn tỉnh"}))["id"]
    wav = make_tone(tmp_path / "tone.wav", 1.0)
    upload = api.post("/api/v1/media", params={"wait": "true"},
                      files={"file": ("tone.wav", wav.read_bytes(), "audio/wav")})
    assert upload.status_code in (200, 201, 202), upload.text
    sha = upload.json()["sha256"]
    info = wait_processed(api, sha)
    assert info["state"] == "ready", info

    refused = api.post(f"/api/v1/forum/categories/{forum_id}/threads",
                       headers=as_officer(writer),
                       json={"title": "Ghi âm", "body": f"nghe media:{'1' * 64}"})
    assert refused.status_code == 422 and "media:" + "1" * 64 in refused.json()["detail"]
    body = f"@{commune['code']} vui lòng phát bản này: media:{sha}. (@khong-co-don-vi-nay)"
    thread = ok(api.post(f"/api/v1/forum/categories/{forum_id}/threads",
                         headers=as_officer(writer), json={"title": "Bản tin mới", "body": body}))
    (post,) = ok(api.get(f"/api/v1/forum/threads/{thread['id']}",
                         headers=as_officer(reader)))["posts"]
    assert post["mentions"] == [commune["id"]]
    mine = ok(api.get("/api/v1/forum/mentions", headers=as_officer(reader)))["items"]
    assert [(m["id"], m["thread_title"]) for m in mine] == [(post["id"], "Bản tin mới")]
    assert ok(api.get("/api/v1/forum/mentions", headers=as_officer(bystander)))["items"] == []

    with _page_client(center, reader) as pages:
        listing = pages.get("/monitor/training/forum").text
        assert f'data-post="{post["id"]}"' in listing
        page = pages.get(f"/monitor/training/forum/threads/{thread['id']}").text
        assert f'data-unit="{commune["id"]}">@{commune["name"]}</span>' in page
        assert f'src="/api/v1/media/{info["delivery"]["sha256"]}"' in page
        assert "@khong-co-don-vi-nay" in page  # an unknown code stays plain text
