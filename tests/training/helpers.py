"""API helpers of the training tests: units, users and officers (with their sessions), the
sample course as a zip."""

from __future__ import annotations

import io
import itertools
import zipfile
from pathlib import Path
from typing import Any

import httpx

from tests.support.tree import add_unit
from tests.training.conftest import SAMPLE

_seq = itertools.count(1)


def ok(response: httpx.Response, status: int | None = None) -> Any:
    creates = response.request.method == "POST" and not response.request.url.path.endswith(
        ("/submit", "/moderate", "/hide"))
    expected = status or (201 if creates else 200)
    assert response.status_code == expected, f"{response.status_code}: {response.text}"
    return response.json()


def unit(api: httpx.Client, level: str, parent: dict[str, Any] | None = None) -> dict[str, Any]:
    return add_unit(api, f"{level}-{next(_seq)}", level, parent)


PASSWORD = "mat-khau-hoc-vien-2026"


def user(api: httpx.Client, unit_: dict[str, Any], role: str = "learner",
         name: str | None = None) -> dict[str, Any]:
    """A user account of the unit (password ``PASSWORD``), with a session ``token``."""
    username = f"u{next(_seq):04d}"
    created = ok(api.post("/api/v1/users", json={
        "username": username, "password": PASSWORD, "role": role, "unit_id": unit_["id"],
        "full_name": name or f"Cán bộ {username}"}))
    session = ok(api.post("/api/v1/auth/login", json={"username": username,
                                                     "password": PASSWORD}), 200)
    return {**created, "token": session["token"]}


def officer(api: httpx.Client, unit_: dict[str, Any], role: str = "editor",
            name: str | None = None) -> dict[str, Any]:
    """A learner account of the unit with its officer profile; ``token`` signs in as it."""
    account = user(api, unit_, name=name)
    code = f"CB-{next(_seq):04d}"
    profile = ok(api.post("/api/v1/training/officers", json={
        "user_id": account["id"], "code": code, "role": role}))
    return {**profile, "username": account["username"], "token": account["token"]}


def signed_in(token: str) -> dict[str, str]:
    """Headers that act as the holder of a session ``token`` (instead of the API token)."""
    return {"Authorization": f"Bearer {token}"}


def folder_zip(folder: Path = SAMPLE) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


def import_sample(api: httpx.Client) -> dict[str, Any]:
    r = api.post("/api/v1/training/courses/import",
                 files={"file": ("course.zip", folder_zip(), "application/zip")})
    assert r.status_code in (200, 201), r.text
    course: dict[str, Any] = r.json()["course"]
    return course


def as_officer(o: dict[str, Any]) -> dict[str, str]:
    """Act as the officer: their own user's session."""
    return signed_in(o["token"])
