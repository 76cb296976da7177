"""The course folder format (see docs/training.md), parsed and validated with file and line.

    course.yaml            code, title, version, description, public
    lessons/NN-slug.md     Markdown with an optional YAML front matter (title)
    quizzes/NN-slug.yaml   title, pass_mark, attempt_limit, shuffle, questions (with the key)
    media/                 pictures (PNG, JPEG, WebP, GIF) and sounds the lessons name as
                           ``media/<file>``, checked by their first bytes (never SVG or HTML)

Every problem found is collected (not only the first) as ``file:line: message``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from control_center.errors import InvalidInput
from protocol.lesson_content import RefusedMedia, lesson_media_type, safe_link

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
MEDIA_REF = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
LIBRARY_REF = re.compile(r"^media:([0-9a-f]{64})$")
LINE = "__line__"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class CourseInvalid(InvalidInput):
    """A course folder that cannot be imported; ``problems`` name the file and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("course refused: " + "; ".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class QuestionSpec:
    key: str
    kind: str
    text: str
    choices: tuple[tuple[str, str], ...]
    answer: tuple[str, ...]
    explanation: str


@dataclass(frozen=True, slots=True)
class QuizSpec:
    slug: str
    title: str
    pass_mark: float
    attempt_limit: int | None
    shuffle: bool
    questions: tuple[QuestionSpec, ...]
    source: str


@dataclass(frozen=True, slots=True)
class LessonSpec:
    slug: str
    title: str
    source: str


@dataclass(frozen=True, slots=True)
class MediaFile:
    name: str
    data: bytes
    mime: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class CourseSpec:
    code: str
    version: int
    title: str
    description: str
    public: bool
    source: str
    content_hash: str
    lessons: list[LessonSpec] = field(default_factory=list)
    quizzes: list[QuizSpec] = field(default_factory=list)
    media: list[MediaFile] = field(default_factory=list)
    # media:<sha256> of the media library -> (file, line) where it is first named
    library_refs: dict[str, tuple[str, int]] = field(default_factory=dict)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records each mapping's first line under ``__line__``."""


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    value = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    value[LINE] = node.start_mark.line + 1
    return value


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(text: str, name: str, problems: list[Problem], first_line: int = 1) -> Any:
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + first_line if mark is not None else first_line
        problems.append(Problem(name, line, f"YAML: {exc.problem or exc}"))
    except yaml.YAMLError as exc:
        problems.append(Problem(name, first_line, f"YAML: {exc}"))
    return None


def content_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        digest.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _text(path: Path, name: str, problems: list[Problem]) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, 1, f"not UTF-8 text ({exc.reason})"))
        return None


def _str(data: dict[str, Any], key: str, name: str, problems: list[Problem],
         required: bool = True) -> str:
    value = data.get(key)
    if value is None:
        if required:
            problems.append(Problem(name, data.get(LINE, 1), f"missing '{key}'"))
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        problems.append(Problem(name, data.get(LINE, 1), f"'{key}' must be text"))
        return ""
    return str(value).strip()


def _parse_course_yaml(folder: Path, problems: list[Problem]) -> dict[str, Any] | None:
    path = folder / "course.yaml"
    if not path.is_file():
        problems.append(Problem("course.yaml", 1, "missing: every course folder has one"))
        return None
    text = _text(path, "course.yaml", problems)
    data = load_yaml(text, "course.yaml", problems) if text is not None else None
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.append(Problem("course.yaml", 1, "must be a mapping (code: ..., title: ...)"))
        return None
    data["__text__"] = text
    return data


def _parse_lesson(path: Path, name: str, problems: list[Problem],
                  media_names: set[str], library_refs: dict[str, tuple[str, int]],
                  refused: dict[str, str]) -> LessonSpec | None:
    source = _text(path, name, problems)
    if source is None:
        return None
    lines = source.splitlines()
    title, body_start = "", 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            problems.append(Problem(name, 1, "front matter opened with '---' is never closed"))
            return None
        meta = load_yaml("\n".join(lines[1:end]), name, problems, first_line=2)
        if isinstance(meta, dict):
            title = _str(meta, "title", name, problems, required=False)
        elif meta is not None:
            problems.append(Problem(name, 2, "front matter must be a mapping (title: ...)"))
        body_start = end + 1
    for number, line in enumerate(lines[body_start:], start=body_start + 1):
        if not title and line.startswith("# "):
            title = line[2:].strip()
        for ref in MEDIA_REF.findall(line):
            if (m := LIBRARY_REF.match(ref)) is not None:  # the library's own scheme
                library_refs.setdefault(m.group(1), (name, number))
                continue
            if not safe_link(ref):
                problems.append(Problem(name, number, f"link '{ref}' is not allowed: use "
                                        "http(s)://..., #part, media/<file> or media:<sha256>"))
                continue
            if ref.startswith(("http://", "https://", "#")):
                continue
            if ref in refused:
                problems.append(Problem(name, number, f"'{ref}' refused: {refused[ref]}"))
                refused[ref] = ""  # named where it is used, not again as a file
                continue
            if ref not in media_names:
                problems.append(Problem(name, number, f"unknown media '{ref}': not in the "
                                        "folder's media/ (nor media:<sha256> of the library)"))
    if not title:
        problems.append(Problem(name, 1, "no title: add front matter 'title:' or a '# ' line"))
        return None
    return LessonSpec(slug=path.stem, title=title, source=source)


def _parse_question(q: Any, index: int, name: str, problems: list[Problem]
                    ) -> QuestionSpec | None:
    if not isinstance(q, dict):
        problems.append(Problem(name, 1, f"question {index + 1} must be a mapping"))
        return None
    line = q.get(LINE, 1)
    key = _str(q, "id", name, problems) or f"q{index + 1}"
    text = _str(q, "text", name, problems)
    raw_choices = q.get("choices")
    if not isinstance(raw_choices, dict) or len(raw_choices) < 3:  # two choices + __line__
        problems.append(Problem(name, line, f"question '{key}': 'choices' must map at least "
                                "two choice ids to their text"))
        return None
    choices = tuple((str(k), str(v)) for k, v in raw_choices.items() if k != LINE)
    ids = {c for c, _ in choices}
    if "answer" not in q or q["answer"] in (None, [], ""):
        problems.append(Problem(name, line, f"question '{key}': missing answer key ('answer:')"))
        return None
    raw = q["answer"]
    answer = tuple(sorted(str(a) for a in (raw if isinstance(raw, list) else [raw])))
    unknown = [a for a in answer if a not in ids]
    if unknown:
        problems.append(Problem(name, line, f"question '{key}': answer {unknown} is not one "
                                f"of the choices {sorted(ids)}"))
        return None
    kind = _str(q, "kind", name, problems, required=False) or (
        "multiple" if isinstance(raw, list) else "single")
    if kind not in ("single", "multiple"):
        problems.append(Problem(name, line, f"question '{key}': kind must be single or "
                                "multiple"))
        return None
    if kind == "single" and len(answer) != 1:
        problems.append(Problem(name, line, f"question '{key}': a single-choice question has "
                                "exactly one answer"))
        return None
    return QuestionSpec(key=key, kind=kind, text=text, choices=choices, answer=answer,
                        explanation=_str(q, "explanation", name, problems, required=False))


def _parse_quiz(path: Path, name: str, problems: list[Problem]) -> QuizSpec | None:
    source = _text(path, name, problems)
    data = load_yaml(source, name, problems) if source is not None else None
    if source is None or data is None:
        return None
    if not isinstance(data, dict):
        problems.append(Problem(name, 1, "must be a mapping (title, pass_mark, questions)"))
        return None
    title = _str(data, "title", name, problems)
    line = data[LINE]
    pass_mark = data.get("pass_mark", 80)
    if not isinstance(pass_mark, int | float) or not 0 < pass_mark <= 100:
        problems.append(Problem(name, line, "pass_mark must be a percentage in (0, 100]"))
        pass_mark = 80
    limit = data.get("attempt_limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        problems.append(Problem(name, line, "attempt_limit must be a positive whole number"))
        limit = None
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append(Problem(name, line, "'questions' must be a non-empty list"))
        return None
    before = len(problems)
    questions = [_parse_question(q, i, name, problems) for i, q in enumerate(raw_questions)]
    keys = [q.key for q in questions if q is not None]
    if len(set(keys)) != len(keys):
        problems.append(Problem(name, line, "question ids must be unique"))
    if len(problems) > before:
        return None
    return QuizSpec(slug=path.stem, title=title, pass_mark=float(pass_mark),
                    attempt_limit=limit, shuffle=bool(data.get("shuffle", True)),
                    questions=tuple(q for q in questions if q is not None), source=source)


def _read_media(media_dir: Path) -> tuple[list[MediaFile], dict[str, str]]:
    """The folder's pictures and sounds, and why each other file is refused (by its name)."""
    media: list[MediaFile] = []
    refused: dict[str, str] = {}
    if media_dir.is_dir():
        for path in sorted(p for p in media_dir.iterdir() if p.is_file()):
            data = path.read_bytes()
            try:
                mime = lesson_media_type(path.name, data)
            except RefusedMedia as exc:
                refused[f"media/{path.name}"] = str(exc)
                continue
            media.append(MediaFile(name=path.name, data=data, mime=mime))
    return media, refused


def read_course_folder(folder: Path) -> CourseSpec:
    """Parse and validate ``folder``; raise CourseInvalid listing every problem."""
    problems: list[Problem] = []
    if not folder.is_dir():
        raise CourseInvalid([Problem(str(folder), 0, "not a folder")])
    data = _parse_course_yaml(folder, problems)
    media, refused = _read_media(folder / "media")
    media_names = {f"media/{m.name}" for m in media}
    library_refs: dict[str, tuple[str, int]] = {}
    lesson_paths = sorted((folder / "lessons").glob("*.md"))
    if not lesson_paths:
        problems.append(Problem("lessons/", 0, "no lesson: add lessons/01-<name>.md"))
    lessons = [_parse_lesson(p, f"lessons/{p.name}", problems, media_names, library_refs,
                             refused) for p in lesson_paths]
    problems.extend(Problem(name, 0, why) for name, why in refused.items() if why)
    quizzes = [_parse_quiz(p, f"quizzes/{p.name}", problems)
               for p in sorted((folder / "quizzes").glob("*.yaml"))]
    for kind, specs in (("lessons", lessons), ("quizzes", quizzes)):
        for spec in specs:
            if spec is not None and not SLUG.match(spec.slug):
                problems.append(Problem(f"{kind}/{spec.slug}", 0, "file names use a-z, 0-9, "
                                        "'-' and '_' only"))
    code = title = description = ""
    version, public = 1, False
    if data is not None:
        code = _str(data, "code", "course.yaml", problems)
        title = _str(data, "title", "course.yaml", problems)
        description = _str(data, "description", "course.yaml", problems, required=False)
        public = bool(data.get("public", False))
        raw_version = data.get("version", 1)
        if not isinstance(raw_version, int) or raw_version < 1:
            problems.append(Problem("course.yaml", data[LINE], "version must be a whole "
                                    "number from 1"))
        else:
            version = raw_version
        if code and not SLUG.match(code):
            problems.append(Problem("course.yaml", data[LINE], f"code {code!r}: use a-z, 0-9, "
                                    "'-' and '_' only"))
    if problems:
        raise CourseInvalid(problems)
    assert data is not None
    return CourseSpec(
        code=code, version=version, title=title, description=description, public=public,
        source=data["__text__"], content_hash=content_hash(folder),
        lessons=[x for x in lessons if x is not None],
        quizzes=[x for x in quizzes if x is not None], media=media, library_refs=library_refs)
