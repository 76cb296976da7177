"""Course folders: the sample imports and exports back byte for byte; bad folders are refused
with every problem named by file and line."""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from control_center.core.actor import Actor
from control_center.errors import InvalidInput
from control_center.training.courses import export_folder, import_folder, import_zip
from control_center.training.format import CourseInvalid, content_hash, read_course_folder
from tests.training.conftest import SAMPLE

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
ACTOR = Actor("test")


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "course"
    shutil.copytree(SAMPLE, folder)
    return folder


def test_sample_course_imports_and_exports_unchanged(tmp_path: Path,
                                                     sessions: sessionmaker[Session]) -> None:
    store = tmp_path / "store"
    with sessions() as session:
        course, changed = import_folder(session, folder=SAMPLE, store_dir=store, actor=ACTOR,
                                        now=NOW)
        assert changed and course.code == "viet-ban-tin" and course.version == 1
        assert [lesson.title for lesson in course.lessons] == [
            "Cấu trúc một bản tin", "Lên lịch phát trên hệ thống loa"]
        (quiz,) = course.quizzes
        assert quiz.pass_mark == 75 and quiz.attempt_limit == 3 and quiz.shuffle
        assert [q.kind.value for q in quiz.questions] == ["single", "single", "multiple",
                                                          "single"]
        assert quiz.questions[2].answer_json == '["a", "b"]'
        assert sorted(m.name for m in course.media) == ["ban-tin-mau.wav", "so-do-ban-tin.png"]
        assert all((store / m.sha256).is_file() for m in course.media)
        out = tmp_path / "exported"
        export_folder(course, store_dir=store, folder=out)
        assert content_hash(out) == content_hash(SAMPLE) == course.content_hash
        again, changed = import_folder(session, folder=out, store_dir=store, actor=ACTOR,
                                       now=NOW)
        assert again.id == course.id and not changed and again.version == 1


def test_reimport_of_a_changed_folder_raises_the_version(tmp_path: Path,
                                                         sessions: sessionmaker[Session]) -> None:
    folder = _copy(tmp_path)
    with sessions() as session:
        course, _ = import_folder(session, folder=folder, store_dir=tmp_path / "s", actor=ACTOR,
                                  now=NOW)
        quiz_id = course.quizzes[0].id
        quiz_file = folder / "quizzes" / "01-kiem-tra.yaml"
        quiz_file.write_text(quiz_file.read_text().replace("pass_mark: 75", "pass_mark: 50"))
        course, changed = import_folder(session, folder=folder, store_dir=tmp_path / "s",
                                        actor=ACTOR, now=NOW)
        assert changed and course.version == 2
        assert course.quizzes[0].id == quiz_id and course.quizzes[0].pass_mark == 50


def _problems(folder: Path) -> list[str]:
    with pytest.raises(CourseInvalid) as caught:
        read_course_folder(folder)
    return [str(p) for p in caught.value.problems]


def test_missing_answer_key_and_unknown_media_are_named_by_file_and_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    quiz = folder / "quizzes" / "01-kiem-tra.yaml"
    lines = quiz.read_text().splitlines()
    answer_line = lines.index("    answer: a")  # question 'do-dai-cau'
    question_line = lines.index("  - id: do-dai-cau") + 1
    del lines[answer_line]
    quiz.write_text("\n".join(lines) + "\n")
    lesson = folder / "lessons" / "02-len-lich-phat.md"
    lesson.write_text(lesson.read_text() + "\n![Bản đồ](media/ban-do-xa.png)\n")
    media_line = len(lesson.read_text().splitlines())
    problems = _problems(folder)
    assert problems == [
        f"lessons/02-len-lich-phat.md:{media_line}: unknown media 'media/ban-do-xa.png': not "
        "in the folder's media/ (nor media:<sha256> of the library)",
        f"quizzes/01-kiem-tra.yaml:{question_line}: question 'do-dai-cau': missing answer key "
        "('answer:')",
    ]


def test_other_mistakes_are_refused_with_their_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "course.yaml").write_text("code: Viết Bản Tin\ntitle: [unclosed\n")
    quiz = folder / "quizzes" / "01-kiem-tra.yaml"
    text = quiz.read_text().replace("    answer: [a, b]", "    answer: [a, d]")
    quiz.write_text(text)
    line = text.splitlines().index("  - id: nhac-lai") + 1
    problems = _problems(folder)
    assert problems == [
        "course.yaml:3: YAML: expected ',' or ']', but got '<stream end>'",
        f"quizzes/01-kiem-tra.yaml:{line}: question 'nhac-lai': answer ['d'] is not one of "
        "the choices ['a', 'b', 'c']",
    ]


def test_unknown_library_media_is_refused(tmp_path: Path,
                                          sessions: sessionmaker[Session]) -> None:
    folder = _copy(tmp_path)
    lesson = folder / "lessons" / "01-cau-truc-ban-tin.md"
    lesson.write_text(lesson.read_text() + "[Nghe](media:" + "ab" * 32 + ")\n")
    line = len(lesson.read_text().splitlines())
    with sessions() as session, pytest.raises(CourseInvalid) as caught:
        import_folder(session, folder=folder, store_dir=tmp_path / "s", actor=ACTOR, now=NOW)
    assert str(caught.value.problems[0]).startswith(
        f"lessons/01-cau-truc-ban-tin.md:{line}: unknown media: media:{'ab' * 32}")


def test_unsafe_zips_are_refused(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../escape.md", "# thoát ra ngoài")
    with sessions() as session, pytest.raises(InvalidInput, match="unsafe path"):
        import_zip(session, data=buffer.getvalue(), store_dir=tmp_path / "s", actor=ACTOR,
                   now=NOW)
    assert not (tmp_path / "escape.md").exists()
    with sessions() as session, pytest.raises(InvalidInput, match="not a zip"):
        import_zip(session, data=b"PK no", store_dir=tmp_path / "s", actor=ACTOR, now=NOW)
