"""Agent releases: wheels received into a private directory while hashed, checked, signed
into a release manifest and kept as ``<data_dir>/releases/<version>/``.

A release is code every device it reaches will run, signed by the center: only an
administrator of a root unit (or the API token) uploads one (``core.access``: center-wide),
and nothing of it can change afterwards (a new version is a new release). Devices fetch the
signed manifest and the wheels without credentials; the signature and the SHA-256s are the
authority.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.targets import descendant_unit_ids
from control_center.errors import Conflict, FieldError, NotFound, PayloadTooLarge
from control_center.models import AgentRelease, Device, DeviceState
from control_center.schemas.releases import ReleasePublic, UnitCount, VersionCount
from protocol import codec
from protocol.manifest import ReleaseRef
from protocol.release import ReleaseFile, ReleaseManifest
from protocol.signing import Signer

log = logging.getLogger(__name__)

RELEASES_DIR = "releases"
PROJECT_DIST = "thongtin_coso"
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
WHEEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,195}\.whl$")  # protocol.release.WheelName
MAX_FILES = 200
MAX_NOTES = 2000
_ZIP_MAGIC = b"PK\x03\x04"
UPLOAD_ACTION = "release_upload"


def releases_dir(data_dir: Path) -> Path:
    return data_dir / RELEASES_DIR


def manifest_url(public_base_url: str, version: str) -> str:
    return f"{public_base_url}/api/v1/releases/{version}/manifest"


def files_base_url(public_base_url: str, version: str) -> str:
    return f"{public_base_url}/api/v1/releases/{version}/files/"


class _Incoming:
    """One wheel being written: its file, running hash and size."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path
        self.file: BinaryIO = path.open("wb")
        self.hash = hashlib.sha256()
        self.size = 0
        self.head = b""


class ReleaseStaging:
    """A release being received: each wheel streamed into a private directory, hashed and
    size-checked on the way (``max_bytes`` for all of them together)."""

    def __init__(self, *, root: Path, max_bytes: int) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(dir=root, prefix=".incoming-"))
        self.files: list[ReleaseFile] = []
        self._max = max_bytes
        self._total = 0
        self._current: _Incoming | None = None

    def begin(self, filename: str) -> None:
        """A new wheel named ``filename`` (refused: a bad or repeated name, too many)."""
        name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
        if not WHEEL.fullmatch(name):
            raise FieldError("files", f"tệp {name[:80]!r} không phải tên gói wheel hợp lệ / "
                             f"{name[:80]!r} is not a wheel file name (letters, digits, "
                             "'.', '_', '+', '-', ending in .whl)")
        if any(f.name == name for f in self.files) or (self._current and
                                                       self._current.name == name):
            raise FieldError("files", f"tệp {name!r} gửi hai lần / {name!r} was sent twice")
        if len(self.files) >= MAX_FILES:
            raise FieldError("files", f"at most {MAX_FILES} files per release")
        self._current = _Incoming(name, self.dir / name)

    def write(self, chunk: bytes) -> None:
        current = self._current
        if current is None:
            return
        self._total += len(chunk)
        if self._total > self._max:
            raise PayloadTooLarge(f"the release exceeds the limit of {self._max} bytes "
                                  "(TT_MAX_UPLOAD_BYTES)")
        if len(current.head) < len(_ZIP_MAGIC):
            current.head += chunk[:len(_ZIP_MAGIC)]
        current.hash.update(chunk)
        current.size += len(chunk)
        current.file.write(chunk)

    def end(self) -> None:
        """The current wheel is complete: flushed to disk and listed (refused: empty or not
        a zip archive)."""
        current, self._current = self._current, None
        if current is None:
            return
        current.file.flush()
        os.fsync(current.file.fileno())
        current.file.close()
        if current.size == 0:
            raise FieldError("files", f"tệp {current.name!r} rỗng / {current.name!r} is empty")
        if not current.head.startswith(_ZIP_MAGIC):
            raise FieldError("files", f"{current.name!r} is not a wheel (not a zip archive)")
        self.files.append(ReleaseFile(name=current.name, sha256=current.hash.hexdigest(),
                                      size=current.size))

    def discard(self) -> None:
        if self._current is not None:
            self._current.file.close()
            self._current = None
        shutil.rmtree(self.dir, ignore_errors=True)


def check_version(version: str) -> str:
    version = version.strip()
    if not VERSION.fullmatch(version):
        raise FieldError("version", f"phiên bản {version[:70]!r} không hợp lệ / version "
                         f"{version[:70]!r} is not valid: 1-64 characters, letters, digits, "
                         "'.', '+', '_', '-', starting with a letter or digit (e.g. 0.2.0)")
    return version


def _check_project_wheel(files: list[ReleaseFile], version: str) -> None:
    """Exactly one wheel of the project, built with the release's version."""
    ours = [f for f in files if f.name.split("-", 1)[0].lower() == PROJECT_DIST]
    expected = version.replace("-", "_")
    if not ours:
        raise FieldError("files", f"thiếu gói của dự án / the release has no wheel of the "
                         f"project: expected {PROJECT_DIST}-{expected}-*.whl among "
                         f"{', '.join(f.name for f in files)[:300]}")
    if len(ours) > 1:
        raise FieldError("files", f"more than one wheel of the project: "
                         f"{', '.join(f.name for f in ours)}")
    parts = ours[0].name[:-len(".whl")].split("-")
    if len(parts) < 5 or parts[1] != expected:
        found = parts[1] if len(parts) > 1 else "?"
        raise FieldError("files", f"gói {ours[0].name} là phiên bản {found}, không phải "
                         f"{version} / the project wheel {ours[0].name} is version {found}, "
                         f"not {version}: build it with the release's version "
                         f"({PROJECT_DIST}-{expected}-*.whl)")


def store_release(
    session: Session, *, staging: ReleaseStaging, version: str, notes: str, signer: Signer,
    public_base_url: str, root: Path, actor: Actor, now: datetime,
) -> AgentRelease:
    """Check the received wheels, sign the release manifest and keep the release (409 for a
    version that exists). The staging directory is moved or removed either way."""
    try:
        version = check_version(version)
        if len(notes) > MAX_NOTES:
            raise FieldError("notes", f"notes are limited to {MAX_NOTES} characters")
        if not staging.files:
            raise FieldError("files", "chưa có tệp nào / no wheel received: send one or more "
                             ".whl files in the multipart field 'files'")
        _check_project_wheel(staging.files, version)
        if session.get(AgentRelease, version) is not None:
            raise Conflict(f"phiên bản {version} đã có / release {version} already exists: a "
                           "release never changes, upload it under a new version")
        manifest = ReleaseManifest(version=version, created_at=now, notes=notes,
                                   files_base_url=files_base_url(public_base_url, version),
                                   files=tuple(staging.files))
        envelope = signer.seal(manifest)
        final = root / version
        if final.exists():  # left by a crash between the move and the commit
            shutil.rmtree(final)
        os.replace(staging.dir, final)
    except BaseException:
        staging.discard()
        raise
    row = AgentRelease(
        version=version, created_at=now, created_by=actor.name[:100],
        actor_unit_id=actor.unit_id, notes=notes, envelope=envelope.decode(),
        manifest_sha256=hashlib.sha256(envelope).hexdigest(), file_count=len(manifest.files),
        total_bytes=sum(f.size for f in manifest.files))
    session.add(row)
    audit.record(session, actor=actor, action=UPLOAD_ACTION, object_type="release",
                 object_id=version, at=now, detail={
                     "files": [f.model_dump() for f in manifest.files],
                     "manifest_sha256": row.manifest_sha256, "notes": notes[:200]})
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        shutil.rmtree(final, ignore_errors=True)
        raise Conflict(f"release {version} already exists") from exc
    log.info("release %s stored: %d files, %d bytes", version, row.file_count, row.total_bytes)
    return row


def release_manifest(release: AgentRelease) -> ReleaseManifest:
    """The manifest inside the stored envelope (the center's own, signed at upload)."""
    body = json.loads(release.envelope)["body"]
    return codec.decode_release(body.encode())


def release_ref(release: AgentRelease, *, public_base_url: str) -> ReleaseRef:
    return ReleaseRef(version=release.version,
                      manifest_url=manifest_url(public_base_url, release.version),
                      manifest_sha256=release.manifest_sha256)


def signed_by_current_key(session: Session, *, release: AgentRelease, signer: Signer) -> None:
    """After a key rotation, seal the unchanged manifest again with the current key (devices
    may no longer trust the old one); commits the new envelope when it changed."""
    if json.loads(release.envelope).get("kid") == signer.key_id:
        return
    envelope = signer.seal(release_manifest(release))
    release.envelope = envelope.decode()
    release.manifest_sha256 = hashlib.sha256(envelope).hexdigest()
    session.commit()
    log.info("release %s sealed again with key %s", release.version, signer.key_id)


def get_release(session: Session, *, version: str) -> AgentRelease:
    release = session.get(AgentRelease, version) if VERSION.fullmatch(version) else None
    if release is None:
        raise NotFound(f"release {version[:70]!r} does not exist")
    return release


def release_file(session: Session, *, root: Path, version: str, name: str) -> Path:
    """The stored wheel ``name`` of release ``version`` (404 for anything else)."""
    release = get_release(session, version=version)
    if name not in {f.name for f in release_manifest(release).files}:
        raise NotFound(f"release {version} has no file {name[:200]!r}")
    path = root / version / name
    if not path.is_file():
        raise NotFound(f"the file {name!r} of release {version} is missing on the center")
    return path


def list_releases(session: Session) -> list[AgentRelease]:
    """Newest first."""
    return list(session.scalars(select(AgentRelease).order_by(AgentRelease.created_at.desc(),
                                                              AgentRelease.version.desc())))


def version_counts(session: Session, *, actor: Actor, unit_id: int | None = None
                   ) -> list[VersionCount]:
    """Active devices per reported agent version, each with its units, inside the actor's
    subtree (and below ``unit_id`` when given); most devices first."""
    online = func.sum(case((Device.online.is_(True), 1), else_=0))
    query = (select(Device.agent_version, Device.unit_id, func.count(), online)
             .where(Device.state == DeviceState.ACTIVE)
             .group_by(Device.agent_version, Device.unit_id))
    if unit_id is not None:
        query = query.where(Device.unit_id.in_(descendant_unit_ids(session, unit_ids=[unit_id])))
    totals: dict[str, list[int]] = {}
    units: dict[str, list[UnitCount]] = {}
    for version, unit, devices, up in session.execute(query):
        if not actor.covers(unit):
            continue
        total = totals.setdefault(version, [0, 0])
        total[0] += devices
        total[1] += up or 0
        units.setdefault(version, []).append(UnitCount(unit_id=unit, devices=devices))
    return sorted((VersionCount(version=v, devices=n, online=up,
                                units=sorted(units[v], key=lambda u: u.unit_id))
                   for v, (n, up) in totals.items()), key=lambda c: (-c.devices, c.version))


def release_public(release: AgentRelease, *, public_base_url: str,
                   running: dict[str, int]) -> ReleasePublic:
    """The release as listed; ``running``: devices per agent version (``version_counts``)."""
    return ReleasePublic(
        version=release.version, created_at=release.created_at, created_by=release.created_by,
        notes=release.notes, manifest_url=manifest_url(public_base_url, release.version),
        manifest_sha256=release.manifest_sha256, files=list(release_manifest(release).files),
        total_bytes=release.total_bytes, devices_running=running.get(release.version, 0))
