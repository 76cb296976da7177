"""Secrets of the center: the signing key (never silently replaced, written 0600 from the
start), the development API token, and Mosquitto $7$ password hashes checked against a real
mosquitto."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from control_center.__main__ import main
from control_center.broker.accounts import UnmanagedAccounts
from control_center.config import Settings, get_settings
from control_center.core.actor import Actor
from control_center.db import create_db_engine, session_factory, upgrade_database
from control_center.errors import ConfigError
from control_center.security import mosquitto_hash, verify_mosquitto_hash
from control_center.services import fleet
from control_center.workers.runtime import Center, load_signer
from firmware_sim.broker import find_executable, free_port
from protocol.events import DeviceKind
from tests.support.databases import Backend, Databases
from tests.support.mqtt import ConnectRefusedError, connect_client
from tests.support.waiting import wait_until


def test_hash_format() -> None:
    encoded = mosquitto_hash("mật khẩu", salt=b"0123456789ab")
    _, alg, iterations, salt, digest = encoded.split("$")
    assert (alg, iterations) == ("7", "101")
    assert base64.b64decode(salt) == b"0123456789ab"
    assert len(base64.b64decode(digest)) == 64
    assert digest.endswith("==")
    assert verify_mosquitto_hash("mật khẩu", encoded)
    assert not verify_mosquitto_hash("mat khau", encoded)
    assert mosquitto_hash("p") != mosquitto_hash("p")  # random salt


@pytest.mark.integration
def test_real_mosquitto_accepts_the_hash(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "passwd").write_text(f"loa-01:{mosquitto_hash('đúng-rồi')}\n")
    (tmp_path / "m.conf").write_text(
        # "user root": as root, mosquitto would drop to a user that cannot read tmp_path.
        f"user root\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {tmp_path / 'passwd'}\n"
    )
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen([find_executable("mosquitto"), "-c", str(tmp_path / "m.conf")],
                            stdout=log, stderr=log)
    log.close()

    def listening() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        assert proc.poll() is None, (tmp_path / "mosquitto.log").read_text()
        return False

    try:
        wait_until(listening, 10, "mosquitto to listen", interval=0.02)
        client = connect_client("127.0.0.1", port, "loa-01", "đúng-rồi")
        client.close()
        with pytest.raises(ConnectRefusedError):
            connect_client("127.0.0.1", port, "loa-01", "sai")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _center_with_a_device(data_dir: Path, database_url: str | None) -> Settings:
    """The database of a center that already provisioned one device (and no key file)."""
    settings = get_settings({"TT_DATA_DIR": str(data_dir),
                             **({"TT_DATABASE_URL": database_url} if database_url else {})})
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    now = datetime.now(UTC)
    with session_factory(engine)() as session:
        unit = fleet.create_unit(session, code="X", name="Xã X", level="commune", parent_id=None,
                                 actor=Actor("test"), now=now)
        fleet.create_device(session, UnmanagedAccounts(), device_id="loa-1", name="Loa 1",
                            kind=DeviceKind.SPEAKER,
                            unit_id=unit.id, lat=None, lon=None, actor=Actor("test"), now=now)
    engine.dispose()
    return settings


def test_a_center_with_devices_refuses_to_start_without_its_signing_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    databases: Databases, db_backend: Backend,
) -> None:
    database_url = databases.url_for(tmp_path, db_backend) if db_backend != "sqlite" else None
    settings = _center_with_a_device(tmp_path, database_url)
    key = settings.signing_key_path
    with pytest.raises(ConfigError) as refused:
        Center(settings)
    message = str(refused.value)
    assert f"Restore {key} from your backup" in message and "1 device(s)" in message
    assert "--new-signing-key" in message and "re-provision every device" in message
    for name in ("TT_ENV", "TT_API_TOKEN", "TT_DATABASE_URL", "TT_SIGNING_KEY_PATH",
                 "TT_NEW_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TT_DATA_DIR", str(tmp_path))
    if database_url:
        monkeypatch.setenv("TT_DATABASE_URL", database_url)
    assert main(["pubkey"]) == 2
    assert f"Restore {key} from your backup" in capsys.readouterr().err
    assert not key.exists()
    # only when asked, knowingly: a new key
    engine = create_db_engine(settings.database_url)
    load_signer(dataclasses.replace(settings, new_signing_key=True), engine)
    engine.dispose()
    assert key.exists()


_WATCHED: list[tuple[Path, list[tuple[str, str, int]]]] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    """Record opens, chmods and renames of files in a watched directory: (event, name, value)
    with the open flags, or the mode a file has when it is renamed into place."""
    if not _WATCHED or event not in ("open", "os.chmod", "os.rename"):
        return
    path = args[0]
    if not isinstance(path, str | bytes | os.PathLike):
        return
    where = Path(os.fsdecode(path))
    for directory, seen in _WATCHED:
        if where.parent == directory:
            value = (int(args[2]) if event == "open" and isinstance(args[2], int)  # type: ignore[misc]
                     else stat.S_IMODE(where.stat().st_mode) if event == "os.rename" else -1)
            seen.append((event, where.name, value))


sys.addaudithook(_audit)


@contextlib.contextmanager
def _file_events(directory: Path) -> Iterator[list[tuple[str, str, int]]]:
    """What happens to the files of ``directory`` meanwhile, under umask 0 (so a mode comes
    from the code, not from the umask)."""
    seen: list[tuple[str, str, int]] = []
    _WATCHED.append((directory, seen))
    umask = os.umask(0)
    try:
        yield seen
    finally:
        os.umask(umask)
        _WATCHED.remove((directory, seen))


def _assert_written_private(seen: list[tuple[str, str, int]], path: Path) -> None:
    creates = [(name, flags) for event, name, flags in seen
               if event == "open" and flags & os.O_CREAT]
    assert creates, f"{path.name} was not created: {seen}"
    for name, flags in creates:  # a fresh temporary file, never an existing one, never `path`
        assert flags & os.O_EXCL and name != path.name, (name, oct(flags))
    assert [e for e in seen if e[0] == "os.chmod"] == [], "a mode fixed after writing"
    renames = [mode for event, _name, mode in seen if event == "os.rename"]
    assert renames == [0o600], renames  # already 0600 before it appears under its name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secret_files_are_0600_from_their_creation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TT_ENV", "TT_API_TOKEN", "TT_DATABASE_URL", "TT_SIGNING_KEY_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TT_DATA_DIR", str(tmp_path))
    with _file_events(tmp_path) as token_events:
        get_settings()  # development: the API token file
    _assert_written_private(token_events, tmp_path / "api_token")
    with _file_events(tmp_path) as key_events:
        assert main(["pubkey"]) == 0  # a fresh center: its signing key
    _assert_written_private(key_events, tmp_path / "center_ed25519.pem")
