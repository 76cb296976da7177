"""Settings: read once from the environment by ``get_settings`` and passed down."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from control_center.errors import ConfigError
from protocol.secret_files import write_secret_file

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the center needs to run; build it with ``get_settings``."""

    env: str
    data_dir: Path
    database_url: str
    mqtt_host: str
    mqtt_port: int
    mqtt_username: str
    mqtt_password: str | None
    mqtt_client_id: str
    mqtt_session_expiry_s: int
    device_mqtt_url: str  # what enrolled devices connect to (mqtt:// or mqtts://host:port)
    public_base_url: str
    signing_key_path: Path
    api_token: str
    horizon_hours: float
    refresh_seconds: float
    timezone: str
    max_upload_bytes: int
    publish_timeout_s: float = 10.0
    command_ttl_s: int = 300
    # telemetry and monitoring (docs/telemetry.md); no TT_INFLUX_URL = no InfluxDB writes
    influx_url: str | None = None
    influx_db: str = "telemetry"
    influx_batch_size: int = 5000
    influx_queue_lines: int = 50_000
    influx_spill_max_bytes: int = 1024**3
    silence_s: float = 180.0
    monitor_interval_s: float = 10.0
    offline_alert_s: float = 900.0
    alert_webhook_url: str | None = None
    alert_disk_free_pct: float = 10.0
    alert_temp_c: float = 80.0
    alert_clock_offset_ms: float = 1000.0
    alert_play_failures: int = 3
    alert_play_failure_window_s: float = 24 * 3600.0
    alert_player_stalled_s: float = 180.0  # the agent's player loop wakes at least every 30 s
    # convergence (docs/protocol.md): republish a device's manifest when it reports an older
    # version (at most once per device per republish_interval_s, not before settle_s after a
    # publish); replay messages that could not be stored (dead letters) every replay_s
    republish_interval_s: float = 60.0
    republish_settle_s: float = 10.0
    dead_letter_replay_s: float = 2.0
    ingest_busy_timeout_ms: int = 1000  # SQLite lock wait of one ingest attempt (of three)
    # operators' sign-in (docs/console.md): failures count over the last lockout_minutes
    session_hours: float = 12.0
    session_idle_minutes: float = 60.0
    lockout_failures: int = 5            # one account from one address: locked there
    lockout_minutes: float = 15.0
    signin_address_failures: int = 20    # one address, any accounts: 429 until they age out
    signin_account_failures: int = 50    # one account, all addresses: one try per slowdown
    signin_slowdown_s: float = 10.0
    sign_in_link_minutes: float = 10.0   # one-time /monitor/sign-in/<code> links
    new_signing_key: bool = False        # create a missing signing key although devices exist
    emergency_roles: tuple[str, ...] = ("admin", "approver")
    # device accounts on the broker (broker_config/README.md): "dynsec" manages them live
    # through Mosquitto's dynamic-security plugin, "unmanaged" leaves them to an administrator
    broker_accounts: str = "dynsec"
    broker_account_timeout_s: float = 10.0
    broker_sync_s: float = 600.0  # the reconciliation of accounts with the device table
    # several center processes on one PostgreSQL (docs/scaling.md): one ingest seat per
    # process (1: a lone process with plain subscriptions); elections every cluster_check_s
    ingest_seats: int = 1
    cluster_check_s: float = 2.0
    # brokers besides the TT_MQTT_* one ("main"): a TOML file (control_center/broker/registry.py)
    brokers_file: Path | None = None
    # CAP 1.2 out (docs/cap.md): the center's <sender> in the alerts it publishes, and how many
    # days back the feed lists approved emergency and priority bulletins
    cap_sender: str = "thongtin-coso@localhost"
    # links between centers (docs/federation.md): this center's id among centers (default
    # ``center-`` and its identity key's id) and that key, apart from the signing key
    center_id: str | None = None
    identity_key_path: Path | None = None
    cap_feed_days: int = 7
    # reports up (docs/federation.md): how often a child center computes its day figures
    federation_figures_s: float = 900.0

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


def get_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Build the settings from ``environ`` (TT_* variables).

    In development an API token is generated once and kept in ``<data_dir>/api_token``
    (mode 0600); with TT_ENV=production an explicit TT_API_TOKEN is required.
    """
    env = environ.get("TT_ENV", "development").strip().lower() or "development"
    data_dir = Path(environ.get("TT_DATA_DIR", "./data/center")).expanduser().absolute()
    database_url = environ.get("TT_DATABASE_URL") or f"sqlite:///{data_dir / 'center.db'}"
    timezone = environ.get("TT_TIMEZONE", DEFAULT_TIMEZONE)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"TT_TIMEZONE={timezone!r} is not a known IANA time zone") from exc
    return Settings(
        env=env,
        data_dir=data_dir,
        database_url=database_url,
        mqtt_host=environ.get("TT_MQTT_HOST", "127.0.0.1"),
        mqtt_port=_int(environ, "TT_MQTT_PORT", 1883),
        mqtt_username=environ.get("TT_MQTT_USERNAME", "center"),
        mqtt_password=environ.get("TT_MQTT_PASSWORD") or None,
        mqtt_client_id=environ.get("TT_MQTT_CLIENT_ID", "control-center"),
        mqtt_session_expiry_s=_int(environ, "TT_MQTT_SESSION_EXPIRY", 7 * 24 * 3600),
        device_mqtt_url=_device_mqtt_url(environ),
        public_base_url=environ.get("TT_PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        signing_key_path=Path(
            environ.get("TT_SIGNING_KEY_PATH") or data_dir / "center_ed25519.pem"
        ),
        api_token=_api_token(environ, env, data_dir),
        horizon_hours=_float(environ, "TT_HORIZON_HOURS", 48.0),
        refresh_seconds=_float(environ, "TT_REFRESH_SECONDS", 600.0),
        timezone=timezone,
        max_upload_bytes=_int(environ, "TT_MAX_UPLOAD_BYTES", 200 * 1024 * 1024),
        influx_url=environ.get("TT_INFLUX_URL", "").strip().rstrip("/") or None,
        influx_db=environ.get("TT_INFLUX_DB", "").strip() or "telemetry",
        silence_s=_float(environ, "TT_SILENCE_SECONDS", 180.0),
        monitor_interval_s=_float(environ, "TT_MONITOR_SECONDS", 10.0),
        offline_alert_s=_float(environ, "TT_OFFLINE_ALERT_SECONDS", 900.0),
        alert_webhook_url=environ.get("TT_ALERT_WEBHOOK_URL", "").strip() or None,
        alert_player_stalled_s=_float(environ, "TT_PLAYER_STALLED_SECONDS", 180.0),
        session_hours=_float(environ, "TT_SESSION_HOURS", 12.0),
        session_idle_minutes=_float(environ, "TT_SESSION_IDLE_MINUTES", 60.0),
        lockout_failures=_int(environ, "TT_LOCKOUT_FAILURES", 5),
        lockout_minutes=_float(environ, "TT_LOCKOUT_MINUTES", 15.0),
        signin_address_failures=_int(environ, "TT_SIGNIN_ADDRESS_FAILURES", 20),
        signin_account_failures=_int(environ, "TT_SIGNIN_ACCOUNT_FAILURES", 50),
        signin_slowdown_s=_float(environ, "TT_SIGNIN_SLOWDOWN_SECONDS", 10.0),
        sign_in_link_minutes=_link_minutes(environ),
        new_signing_key=environ.get("TT_NEW_SIGNING_KEY", "").strip().lower()
        in {"1", "true", "yes"},
        emergency_roles=_roles(environ.get("TT_EMERGENCY_ROLES", "admin,approver")),
        broker_accounts=_broker_accounts(environ),
        broker_account_timeout_s=_float(environ, "TT_BROKER_ACCOUNT_TIMEOUT", 10.0),
        broker_sync_s=_float(environ, "TT_BROKER_SYNC_SECONDS", 600.0),
        ingest_seats=_seats(environ),
        cluster_check_s=_float(environ, "TT_CLUSTER_CHECK_SECONDS", 2.0),
        brokers_file=_path(environ, "TT_BROKERS_FILE"),
        cap_sender=_cap_sender(environ),
        center_id=environ.get("TT_CENTER_ID", "").strip() or None,
        identity_key_path=_path(environ, "TT_CENTER_IDENTITY_KEY"),
        cap_feed_days=_int(environ, "TT_CAP_FEED_DAYS", 7),
        federation_figures_s=_float(environ, "TT_FEDERATION_FIGURES_SECONDS", 900.0),
    )


def _cap_sender(environ: Mapping[str, str]) -> str:
    """TT_CAP_SENDER, else ``thongtin-coso@<host of TT_PUBLIC_BASE_URL>``."""
    host = urlsplit(environ.get("TT_PUBLIC_BASE_URL", "http://127.0.0.1:8000")).hostname
    sender = environ.get("TT_CAP_SENDER", "").strip() or f"thongtin-coso@{host or 'localhost'}"
    if any(c in sender for c in " ,<>&\t\n"):
        raise ConfigError(f"TT_CAP_SENDER={sender!r}: a CAP sender has no spaces, commas, "
                          "< > or &")
    return sender


def _seats(environ: Mapping[str, str]) -> int:
    seats = _int(environ, "TT_INGEST_SEATS", 1)
    if seats > 64:
        raise ConfigError(f"TT_INGEST_SEATS={seats}: give the number of center processes "
                          "(1 to 64)")
    return seats


BROKER_ACCOUNTS = ("dynsec", "unmanaged")


def _broker_accounts(environ: Mapping[str, str]) -> str:
    choice = environ.get("TT_BROKER_ACCOUNTS", "").strip().lower() or "dynsec"
    if choice not in BROKER_ACCOUNTS:
        raise ConfigError(f"TT_BROKER_ACCOUNTS={choice!r}: choose one of "
                          f"{', '.join(BROKER_ACCOUNTS)}")
    return choice


def _device_mqtt_url(environ: Mapping[str, str]) -> str:
    """TT_DEVICE_MQTT_URL, or the center's own broker address on the standard port."""
    default = f"mqtt://{environ.get('TT_MQTT_HOST', '127.0.0.1')}:1883"
    return checked_device_url(environ.get("TT_DEVICE_MQTT_URL") or default,
                              setting="TT_DEVICE_MQTT_URL")


def checked_device_url(raw: str, *, setting: str, who: str = "devices") -> str:
    """``raw`` as an mqtt:// or mqtts://host:port URL (no path), else ``ConfigError`` naming
    ``setting`` and saying what to write."""
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or port == -1 or parts.path:
        raise ConfigError(f"{setting}={url!r}: write mqtt://host:port or mqtts://host:port "
                          f"(what {who} connect to)")
    return url


def _path(environ: Mapping[str, str], name: str) -> Path | None:
    raw = environ.get(name, "").strip()
    return Path(raw).expanduser().absolute() if raw else None


def _link_minutes(environ: Mapping[str, str]) -> float:
    minutes = _float(environ, "TT_SIGN_IN_LINK_MINUTES", 10.0)
    if minutes > 10:
        raise ConfigError(f"TT_SIGN_IN_LINK_MINUTES={minutes:g}: a sign-in link lives at most "
                          "10 minutes")
    return minutes


def _roles(raw: str) -> tuple[str, ...]:
    """Roles allowed to send an emergency without approval (TT_EMERGENCY_ROLES, comma list)."""
    known = {"admin", "operator", "approver", "technician", "feedback_officer"}
    roles = tuple(r.strip() for r in raw.split(",") if r.strip())
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise ConfigError(f"TT_EMERGENCY_ROLES names unknown role(s) {unknown}; "
                          f"known: {sorted(known)}")
    return roles


def _api_token(environ: Mapping[str, str], env: str, data_dir: Path) -> str:
    token = environ.get("TT_API_TOKEN", "").strip()
    if token:
        if len(token) < 16:
            raise ConfigError("TT_API_TOKEN is too short: use at least 16 random characters")
        return token
    if env == "production":
        raise ConfigError(
            "TT_ENV=production needs an explicit TT_API_TOKEN "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    path = data_dir / "api_token"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    write_secret_file(path, (token + "\n").encode())
    log.warning("generated a development API token in %s", path)
    return token


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value
