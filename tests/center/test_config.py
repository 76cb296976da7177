"""Settings from the environment: defaults, the development token, production refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from control_center.config import get_settings
from control_center.errors import ConfigError


def test_defaults(tmp_path: Path) -> None:
    s = get_settings({"TT_DATA_DIR": str(tmp_path)})
    assert s.data_dir == tmp_path
    assert s.database_url == f"sqlite:///{tmp_path / 'center.db'}"
    assert s.signing_key_path == tmp_path / "center_ed25519.pem"
    assert (s.mqtt_username, s.mqtt_port, s.mqtt_password) == ("center", 1883, None)
    assert (s.horizon_hours, s.refresh_seconds) == (48.0, 600.0)
    assert s.timezone == "Asia/Ho_Chi_Minh"
    assert s.max_upload_bytes == 200 * 1024 * 1024
    assert s.media_dir == tmp_path / "media"


def test_development_token_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = get_settings({"TT_DATA_DIR": str(tmp_path)}).api_token
    token_file = tmp_path / "api_token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert get_settings({"TT_DATA_DIR": str(tmp_path)}).api_token == first


def test_production_requires_an_explicit_token(tmp_path: Path) -> None:
    env = {"TT_DATA_DIR": str(tmp_path), "TT_ENV": "production"}
    with pytest.raises(ConfigError, match="needs an explicit TT_API_TOKEN"):
        get_settings(env)
    assert not (tmp_path / "api_token").exists()
    token = "t" * 40
    assert get_settings({**env, "TT_API_TOKEN": token}).api_token == token


def test_explicit_values(tmp_path: Path) -> None:
    s = get_settings({
        "TT_DATA_DIR": str(tmp_path), "TT_API_TOKEN": "x" * 20,
        "TT_DATABASE_URL": "postgresql+psycopg://u:p@db/tt", "TT_MQTT_PORT": "8883",
        "TT_PUBLIC_BASE_URL": "https://cc.example.vn/", "TT_HORIZON_HOURS": "72",
        "TT_TIMEZONE": "Asia/Bangkok",
    })
    assert s.database_url.startswith("postgresql")
    assert s.mqtt_port == 8883
    assert s.public_base_url == "https://cc.example.vn"
    assert s.horizon_hours == 72.0
    assert s.timezone == "Asia/Bangkok"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TT_MQTT_PORT", "eighty", "TT_MQTT_PORT='eighty' is not an integer"),
        ("TT_HORIZON_HOURS", "-1", "TT_HORIZON_HOURS must be positive"),
        ("TT_TIMEZONE", "Asia/Saigon-ish", "not a known IANA time zone"),
        ("TT_API_TOKEN", "short", "too short"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        get_settings({"TT_DATA_DIR": str(tmp_path), name: value})
