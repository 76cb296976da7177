"""The command line: pubkey and broker-passwd."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from control_center.__main__ import main
from control_center.broker.accounts import UnmanagedAccounts
from control_center.config import get_settings
from control_center.core.actor import Actor
from control_center.db import create_db_engine, session_factory, upgrade_database
from control_center.security import verify_mosquitto_hash
from control_center.services import fleet
from protocol.events import DeviceKind
from protocol.signing import Signer, load_private_key, public_key_b64
from tests.support.databases import Backend, Databases


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, databases: Databases,
        db_backend: Backend) -> Path:
    """TT_DATA_DIR; TT_DATABASE_URL only when the module runs on PostgreSQL."""
    for name in ("TT_ENV", "TT_API_TOKEN", "TT_DATABASE_URL", "TT_SIGNING_KEY_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TT_DATA_DIR", str(tmp_path))
    if db_backend != "sqlite":
        monkeypatch.setenv("TT_DATABASE_URL", databases.url_for(tmp_path, db_backend))
    return tmp_path


def test_pubkey_creates_then_reuses_the_key(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pubkey"]) == 0
    printed = capsys.readouterr().out.strip()
    key = load_private_key(env / "center_ed25519.pem")
    assert printed == public_key_b64(Signer(key).public_key)
    assert (env / "center_ed25519.pem").stat().st_mode & 0o077 == 0
    assert main(["pubkey"]) == 0
    assert capsys.readouterr().out.strip() == printed


def test_broker_passwd(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings()  # the environment the command line sees
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    now = datetime.now(UTC)
    with session_factory(engine)() as session:
        unit = fleet.create_unit(session, code="X", name="X", level="commune", parent_id=None,
                                 actor=Actor("test"), now=now)
        _, password = fleet.create_device(session, UnmanagedAccounts(), device_id="loa-9",
                                          name="L",
                                          kind=DeviceKind.SPEAKER, unit_id=unit.id, lat=None,
                                          lon=None, actor=Actor("test"), now=now)
    engine.dispose()
    monkeypatch.setenv("TT_MQTT_PASSWORD", "center-secret")
    out, center_out = env / "broker" / "passwd", env / "broker" / "center.passwd"
    assert main(["broker-passwd", "--out", str(out), "--center-out", str(center_out)]) == 0
    lines = dict(line.split(":", 1) for line in out.read_text().splitlines())
    assert set(lines) == {"loa-9"}  # the center's account is not on the device listener
    assert verify_mosquitto_hash(password, lines["loa-9"])
    center_lines = dict(line.split(":", 1) for line in center_out.read_text().splitlines())
    assert set(center_lines) == {"center"}
    assert verify_mosquitto_hash("center-secret", center_lines["center"])
    assert out.stat().st_mode & 0o077 == 0 and center_out.stat().st_mode & 0o077 == 0
    for broker, expected in (("main", {"loa-9"}), ("north", set())):  # one file per broker
        assert main(["broker-passwd", "--out", str(out), "--broker", broker]) == 0
        assert {line.split(":", 1)[0] for line in out.read_text().splitlines()} == expected


def test_production_without_token_is_a_clear_error(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TT_ENV", "production")
    assert main(["pubkey"]) == 2
    assert "needs an explicit TT_API_TOKEN" in capsys.readouterr().err


def test_create_user_takes_the_password_from_the_environment_and_refuses_weak_ones(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from sqlalchemy import select

    from control_center.accounts.passwords import verify_password
    from control_center.models import User

    settings = get_settings()  # the environment the command line sees
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    with session_factory(engine)() as session:
        fleet.create_unit(session, code="TINH", name="Tỉnh", level="province", parent_id=None,
                          actor=Actor("test"), now=datetime.now(UTC))
    monkeypatch.setenv("TT_NEW_USER_PASSWORD", "short")
    assert main(["create-user", "quantri", "--role", "admin", "--unit", "TINH"]) == 2
    assert "10" in capsys.readouterr().err
    monkeypatch.setenv("TT_NEW_USER_PASSWORD", "mot-mat-khau-du-dai")
    assert main(["create-user", "quantri", "--role", "admin", "--unit", "NOPE"]) == 2
    assert main(["create-user", "quantri", "--role", "admin", "--unit", "TINH"]) == 0
    with session_factory(engine)() as session:
        user = session.scalar(select(User).where(User.username == "quantri"))
        assert user is not None and user.role == "admin"
        assert verify_password("mot-mat-khau-du-dai", user.password_hash)
    engine.dispose()
