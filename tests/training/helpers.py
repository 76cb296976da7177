"""API helpers of the training tests: units, officers, the sample course as a zip."""

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


def officer(api: httpx.Client, unit_: dict[str, Any], role: str = "editor",
            name: str | None = None) -> dict[str, Any]:
    code = f"CB-{next(_seq):04d}"
    return ok(api.post("/api/v1/training/officers", json={
        "code": code, "name": name or f"Cán bộ {code}", "unit_id": unit_["id"], "role": role}))


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
    return {"X-Officer": o["code"]}
