"""No script through course content: pictures are raster images and sounds audio by their first
bytes (an SVG, or HTML renamed .png, is refused with the file and line that use it), lesson
links are relative or http(s) only, and the kiosk shows a bundle's lessons through the same
rule even if the HTML it received says otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from control_center.training.format import CourseInvalid, read_course_folder
from control_center.training.markdown import render
from edge_agent.kiosk.lesson_html import clean_lesson_html
from tests.support.center import CenterHandle
from tests.training.conftest import SAMPLE
from tests.training.helpers import folder_zip

SVG = (b'<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("/console/emergency")'
       b"</script></svg>")
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def _hostile_course(tmp_path: Path) -> tuple[Path, int]:
    """The sample with an SVG that lesson 2 shows and an HTML file named .png nobody names."""
    folder = tmp_path / "course"
    shutil.copytree(SAMPLE, folder)
    (folder / "media" / "so-do.svg").write_bytes(SVG)
    (folder / "media" / "anh-that.png").write_bytes(HTML)
    lesson = folder / "lessons" / "02-len-lich-phat.md"
    lesson.write_text(lesson.read_text() + "\n![Sơ đồ](media/so-do.svg)\n")
    return folder, len(lesson.read_text().splitlines())


def test_svg_and_html_renamed_png_are_refused_with_file_and_line(tmp_path: Path) -> None:
    folder, line = _hostile_course(tmp_path)
    with pytest.raises(CourseInvalid) as caught:
        read_course_folder(folder)
    problems = [str(p) for p in caught.value.problems]
    assert problems == [
        f"lessons/02-len-lich-phat.md:{line}: 'media/so-do.svg' refused: SVG pictures can "
        "carry script and are refused: export it as PNG (allowed: FLAC, GIF, JPG, M4A, MP3, "
        "OGG, OPUS, PNG, WAV, WEBP)",
        "media/anh-that.png:0: the file is SVG, HTML or XML text, which can carry script, not "
        "a picture or sound (allowed: FLAC, GIF, JPG, M4A, MP3, OGG, OPUS, PNG, WAV, WEBP)",
    ]


def test_a_picture_whose_bytes_are_not_its_format_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "course"
    shutil.copytree(SAMPLE, folder)
    wav = (folder / "media" / "ban-tin-mau.wav").read_bytes()
    (folder / "media" / "so-do-ban-tin.png").write_bytes(wav)  # a sound named .png
    with pytest.raises(CourseInvalid) as caught:
        read_course_folder(folder)
    line = (folder / "lessons" / "01-cau-truc-ban-tin.md").read_text().splitlines().index(
        "![Sơ đồ bản tin](media/so-do-ban-tin.png)") + 1
    assert [str(p) for p in caught.value.problems] == [
        f"lessons/01-cau-truc-ban-tin.md:{line}: 'media/so-do-ban-tin.png' refused: the content "
        "is not PNG (its first bytes do not match): save it again in that format"]


def test_script_links_are_refused_at_import_and_never_rendered_as_links(tmp_path: Path) -> None:
    folder = tmp_path / "course"
    shutil.copytree(SAMPLE, folder)
    lesson = folder / "lessons" / "01-cau-truc-ban-tin.md"
    lesson.write_text(lesson.read_text() + "\n[Bấm vào đây](javascript:alert(1))\n"
                      "![ảnh](data:image/png;base64,AAAA)\n")
    lines = len(lesson.read_text().splitlines())
    with pytest.raises(CourseInvalid) as caught:
        read_course_folder(folder)
    assert [str(p) for p in caught.value.problems] == [
        f"lessons/01-cau-truc-ban-tin.md:{lines - 1}: link 'javascript:alert(1' is not "
        "allowed: use http(s)://..., #part, media/<file> or media:<sha256>",
        f"lessons/01-cau-truc-ban-tin.md:{lines}: link 'data:image/png;base64,AAAA' is not "
        "allowed: use http(s)://..., #part, media/<file> or media:<sha256>",
    ]

    # The renderer holds the same rule, even for what a resolver hands it.
    def resolve(ref: str) -> tuple[str, str] | None:
        return ("javascript:alert(2)", "image/png") if ref == "media/x.png" else None

    html = render("[a](javascript:alert(1)) [b](vbscript:x) [c](media/x.png) ![d](media/x.png)"
                  " [e](https://example.org/tin)", resolve)
    assert "javascript:" not in html and "vbscript:" not in html
    assert html == ('<p>a) b c d <a href="https://example.org/tin" rel="noopener">e</a></p>')


def test_the_kiosk_shows_only_lesson_tags_and_safe_targets() -> None:
    received = (
        '<h2 onclick="x()">Bài 1</h2><p>Xem <a href="javascript:alert(1)">đây</a>, '
        '<a href="java&#x73;cript:alert(1)">đây nữa</a>, <a href="data:text/html,x">dữ liệu'
        '</a><script>fetch("/voice/start",{method:"POST"})</script>'
        '<img src="media/' + "a" * 64 + '" alt="Sơ đồ" onerror="x()">'
        '<img src="//evil.example/p.png" alt="ảnh ngoài"><iframe src="/voice">khung</iframe>'
        '<a href="https://example.org/?a=1&amp;b=2">nguồn</a></p>'
        '<audio controls preload="none" src="media/' + "b" * 64 + '" title="Nghe"></audio>')
    shown = clean_lesson_html(received, base="/training/" + "c" * 64 + "/")
    assert shown == (
        "<h2>Bài 1</h2><p>Xem đây, đây nữa, dữ liệu"
        '<img src="/training/' + "c" * 64 + "/media/" + "a" * 64 + '" alt="Sơ đồ">'
        'ảnh ngoài<a href="https://example.org/?a=1&amp;b=2" rel="noopener noreferrer">nguồn'
        '</a></p><audio controls preload="none" src="/training/' + "c" * 64 + "/media/"
        + "b" * 64 + '" title="Nghe"></audio>')


@pytest.mark.integration
def test_the_import_api_answers_422_naming_file_and_line(center: CenterHandle,
                                                         tmp_path: Path) -> None:
    folder, line = _hostile_course(tmp_path)
    r = center.api.post("/api/v1/training/courses/import",
                        files={"file": ("course.zip", folder_zip(folder), "application/zip")})
    assert r.status_code == 422, r.text
    message = r.text
    assert f"lessons/02-len-lich-phat.md:{line}: 'media/so-do.svg' refused: SVG" in message
    assert "media/anh-that.png:0: the file is SVG, HTML or XML text" in message
