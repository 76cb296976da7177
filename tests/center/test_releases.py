"""Agent releases on the center: the upload's refusals, the signed release manifest devices
verify, wheels served with HTTP Range, and the list."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

import httpx
import pytest

from control_center.services.releases import releases_dir
from protocol.codec import decode_release
from protocol.signing import Verifier, public_key_from_b64
from tests.center.helpers import ok
from tests.security.world import PASSWORD, bearer
from tests.support.center import CenterHandle
from tests.support.tree import add_unit

pytestmark = pytest.mark.integration


def wheel(name: str, payload: bytes = b"print('xin chao')\n") -> tuple[str, bytes]:
    """A real (tiny) wheel archive named ``name``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("edge_agent/__init__.py", payload)
        archive.writestr("thongtin_coso.dist-info/METADATA", "Name: thongtin-coso\n")
    return name, buffer.getvalue()


def upload(client: httpx.Client, version: str | None, files: list[tuple[str, bytes]],
           notes: str | None = None) -> httpx.Response:
    """Always multipart (text fields as parts too), even without a file."""
    texts = [(k, (None, v)) for k, v in (("version", version), ("notes", notes)) if v is not None]
    return client.post("/api/v1/releases", files=texts + [
        ("files", (name, body, "application/zip")) for name, body in files])


@pytest.fixture(scope="module")
def released(center: CenterHandle) -> dict[str, Any]:
    """Release 0.2.0: the project's wheel and one dependency."""
    files = [wheel("thongtin_coso-0.2.0-py3-none-any.whl", b"x = 1\n" * 5000),
             wheel("paho_mqtt-2.1.0-py3-none-any.whl")]
    body = ok(upload(center.api, "0.2.0", files, notes="Sửa lỗi phát lại"))
    return {"body": body, "files": dict(files)}


@pytest.mark.parametrize(("version", "files", "status", "fragment"), [
    ("../0.3.0", [wheel("thongtin_coso-0.3.0-py3-none-any.whl")], 422, "is not valid"),
    ("0.3.0", [], 422, "no wheel received"),
    ("0.3.0", [wheel("thongtin_coso-0.3.0.tar.gz")], 422, "is not a wheel file name"),
    ("0.3.0", [("thongtin_coso-0.3.0-py3-none-any.whl", b"")], 422, "is empty"),
    ("0.3.0", [("thongtin_coso-0.3.0-py3-none-any.whl", b"not a zip")], 422, "not a zip"),
    ("0.3.0", [wheel("paho_mqtt-2.1.0-py3-none-any.whl")], 422,
     "expected thongtin_coso-0.3.0-*.whl"),
    ("0.3.0", [wheel("thongtin_coso-0.2.9-py3-none-any.whl")], 422,
     "is version 0.2.9, not 0.3.0"),
    ("0.3.0", [wheel("thongtin_coso-0.3.0-py3-none-any.whl")] * 2, 422, "was sent twice"),
    ("0.2.0", [wheel("thongtin_coso-0.2.0-py3-none-any.whl")], 409, "already exists"),
])
def test_upload_refusals(center: CenterHandle, released: dict[str, Any], version: str,
                         files: list[tuple[str, bytes]], status: int, fragment: str) -> None:
    r = upload(center.api, version, files)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]
    assert not list(releases_dir(center.data_dir).glob(".incoming-*")), "staging left behind"
    assert not (releases_dir(center.data_dir) / "0.3.0").exists()


def test_upload_needs_multipart_and_an_administrator_of_a_root_unit(
        center: CenterHandle) -> None:
    r = center.api.post("/api/v1/releases", json={"version": "0.3.0"})
    assert r.status_code == 422 and "multipart/form-data" in r.json()["detail"], r.text
    province = add_unit(center.api, "ph-tinh", "province")
    commune = add_unit(center.api, "ph-xa", "commune", province)
    for name, role, unit, why in (
            ("ph_admin_xa", "admin", commune, "only users of the top unit"),
            ("ph_op_tinh", "operator", province, "may not manage agent releases")):
        ok(center.api.post("/api/v1/users", json={"username": name, "password": PASSWORD,
                                                  "role": role, "unit_id": unit["id"]}))
        with bearer(center.base_url, name) as client:
            r = upload(client, "0.3.0", [wheel("thongtin_coso-0.3.0-py3-none-any.whl")])
        assert r.status_code == 403 and why in r.json()["detail"], r.text
    assert not (releases_dir(center.data_dir) / "0.3.0").exists()


def test_the_signed_manifest_verifies_and_matches_the_ref(
        center: CenterHandle, released: dict[str, Any]) -> None:
    body = released["body"]
    assert body["manifest_url"] == f"{center.base_url}/api/v1/releases/0.2.0/manifest"
    with httpx.Client(base_url=center.base_url, timeout=30) as anonymous:  # devices: no token
        r = anonymous.get("/api/v1/releases/0.2.0/manifest")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert hashlib.sha256(r.content).hexdigest() == body["manifest_sha256"]
    verifier = Verifier([public_key_from_b64(center.public_key_b64)])
    manifest = decode_release(verifier.open(r.content))
    assert manifest.version == "0.2.0" and manifest.notes == "Sửa lỗi phát lại"
    assert manifest.files_base_url == f"{center.base_url}/api/v1/releases/0.2.0/files/"
    assert {f.name: (f.sha256, f.size) for f in manifest.files} == {
        name: (hashlib.sha256(data).hexdigest(), len(data))
        for name, data in released["files"].items()}
    assert [f.model_dump() for f in manifest.files] == body["files"]


def test_wheels_are_served_with_ranges(center: CenterHandle, released: dict[str, Any]) -> None:
    name = "thongtin_coso-0.2.0-py3-none-any.whl"
    data = released["files"][name]
    url = f"/api/v1/releases/0.2.0/files/{name}"
    with httpx.Client(base_url=center.base_url, timeout=30) as anonymous:
        whole = anonymous.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["accept-ranges"] == "bytes"
        part = anonymous.get(url, headers={"Range": "bytes=100-"})  # a resumed download
        assert part.status_code == 206 and part.content == data[100:]
        assert part.headers["content-range"] == f"bytes 100-{len(data) - 1}/{len(data)}"
        middle = anonymous.get(url, headers={"Range": "bytes=10-19"})
        assert middle.status_code == 206 and middle.content == data[10:20]
        beyond = anonymous.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert beyond.status_code == 416, beyond.text
        assert beyond.headers["content-range"] == f"bytes */{len(data)}"
        assert anonymous.get("/api/v1/releases/0.2.0/files/other-1.0-py3-none-any.whl"
                             ).status_code == 404
        assert anonymous.get("/api/v1/releases/9.9.9/manifest").status_code == 404


def test_listing(center: CenterHandle, released: dict[str, Any]) -> None:
    listed = ok(center.api.get("/api/v1/releases"))["items"]
    mine = next(r for r in listed if r["version"] == "0.2.0")
    assert mine == released["body"]
    assert mine["created_by"] == "api-token" and mine["devices_running"] == 0
    assert mine["total_bytes"] == sum(len(d) for d in released["files"].values())
    audit = ok(center.api.get("/api/v1/audit", params={"object_type": "release",
                                                       "object_id": "0.2.0"}))["items"]
    assert [e["action"] for e in audit] == ["release_upload"]
