"""Command line: ``python -m control_center serve|pubkey|broker-passwd|migrate|db-revision|
create-user``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from sqlalchemy import select

from control_center.config import Settings, get_settings
from control_center.errors import ConfigError

log = logging.getLogger(__name__)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from control_center.main import create_app

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _pubkey(settings: Settings, _args: argparse.Namespace) -> int:
    from control_center.workers.runtime import load_signer
    from protocol.signing import public_key_b64

    print(public_key_b64(load_signer(settings).public_key))
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from control_center.db import create_db_engine, upgrade_database

    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    engine.dispose()
    return 0


def _db_revision(settings: Settings, args: argparse.Namespace) -> int:
    """Autogenerate a migration from the models against an up-to-date database; review it!"""
    from alembic import command

    from control_center.db import alembic_config, create_db_engine, upgrade_database

    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=args.message, autogenerate=True)
    engine.dispose()
    return 0


def _broker_passwd(settings: Settings, args: argparse.Namespace) -> int:
    """Write a mosquitto password file: every device's stored hash (+ the center user)."""
    from control_center.db import create_db_engine, session_factory, upgrade_database
    from control_center.models import Device
    from control_center.security import mosquitto_hash

    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    with session_factory(engine)() as session:
        rows = session.execute(select(Device.id, Device.mqtt_password_hash).order_by(Device.id))
        lines = [f"{device_id}:{pw_hash}" for device_id, pw_hash in rows]
    engine.dispose()
    if settings.mqtt_password:
        lines.insert(0, f"{settings.mqtt_username}:{mosquitto_hash(settings.mqtt_password)}")
    else:
        log.warning("TT_MQTT_PASSWORD is not set: the center user is not in the file")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(line + "\n" for line in lines))
    tmp.replace(out)
    print(f"wrote {len(lines)} user(s) to {out}")
    return 0


def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    """Create a console user (the first administrator of a deployment, for instance).

    The password comes from ``TT_NEW_USER_PASSWORD`` or an interactive prompt, never from
    the command line (it would end up in the shell history and the process list).
    """
    import getpass

    from control_center.accounts import service as accounts
    from control_center.core.actor import Actor
    from control_center.db import create_db_engine, session_factory, upgrade_database
    from control_center.errors import CenterError
    from control_center.models import AdminUnit, Role
    from protocol.base import utc_now

    password = os.environ.get("TT_NEW_USER_PASSWORD") or getpass.getpass("Mật khẩu / password: ")
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    try:
        with session_factory(engine)() as session:
            unit_id = session.scalar(select(AdminUnit.id).where(AdminUnit.code == args.unit))
            if unit_id is None:
                print(f"no unit with code {args.unit!r}: create it first (POST /api/v1/units)",
                      file=sys.stderr)
                return 2
            user = accounts.create_user(
                session, username=args.username, password=password, role=Role(args.role),
                unit_id=unit_id, full_name=args.full_name, actor=Actor("cli"), now=utc_now())
            print(f"created user {user.username!r} ({user.role.value}) in unit {args.unit!r}")
    except CenterError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m control_center",
                                     description="Control center (settings from TT_* variables)")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API, the MQTT bridge and the refresher")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)
    pub = sub.add_parser("pubkey", help="print the manifest signing public key (base64)")
    pub.set_defaults(func=_pubkey)
    mig = sub.add_parser("migrate", help="upgrade the database schema to the newest revision")
    mig.set_defaults(func=_migrate)
    rev = sub.add_parser("db-revision", help="autogenerate a migration (developers; review it)")
    rev.add_argument("-m", "--message", required=True)
    rev.set_defaults(func=_db_revision)
    pw = sub.add_parser("broker-passwd", help="write a mosquitto password_file")
    pw.add_argument("--out", required=True, help="file to write (mode 0600)")
    pw.set_defaults(func=_broker_passwd)
    user = sub.add_parser("create-user", help="create a console user (password from "
                          "TT_NEW_USER_PASSWORD or a prompt)")
    user.add_argument("username")
    user.add_argument("--role", required=True,
                      choices=["admin", "operator", "approver", "technician", "feedback_officer"])
    user.add_argument("--unit", required=True, help="the unit's code")
    user.add_argument("--full-name", default="")
    user.set_defaults(func=_create_user)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        settings = get_settings()
        return int(args.func(settings, args))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
