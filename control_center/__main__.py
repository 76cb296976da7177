"""Command line: ``python -m control_center serve|pubkey|broker-passwd|migrate|db-revision|
create-user|sign-in-link``."""

from __future__ import annotations

import argparse
import dataclasses
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

    from control_center.db import create_db_engine, upgrade_database
    from control_center.main import create_app
    from control_center.workers.runtime import load_signer

    if args.new_signing_key:
        settings = dataclasses.replace(settings, new_signing_key=True)
    engine = create_db_engine(settings.database_url)
    if args.workers > 1 and engine.dialect.name == "sqlite":
        engine.dispose()
        raise ConfigError("serve --workers N needs PostgreSQL (TT_DATABASE_URL): the "
                          "processes share one database; on SQLite run one worker")
    try:
        load_signer(settings, engine)  # refuse here, with a clear message, not in the lifespan
        if args.workers > 1:  # once, before the workers start (each would wait for the other)
            upgrade_database(engine)
    finally:
        engine.dispose()
    if args.workers == 1:
        uvicorn.run(create_app(settings), host=args.host, port=args.port,
                    log_level=args.log_level)
        return 0
    # Each worker process builds the app from the environment (uvicorn imports it by name)
    # and takes an ingest seat of its own: at least one seat per worker.
    os.environ["TT_INGEST_SEATS"] = str(max(settings.ingest_seats, args.workers))
    if settings.new_signing_key:
        os.environ.pop("TT_NEW_SIGNING_KEY", None)  # made above; the workers load it
    uvicorn.run("control_center.main:app_from_environment", factory=True, host=args.host,
                port=args.port, workers=args.workers, log_level=args.log_level)
    return 0


def _pubkey(settings: Settings, _args: argparse.Namespace) -> int:
    from control_center.db import create_db_engine
    from control_center.workers.runtime import load_signer
    from protocol.signing import public_key_b64

    engine = create_db_engine(settings.database_url)
    try:
        print(public_key_b64(load_signer(settings, engine).public_key))
    finally:
        engine.dispose()
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
    """Write the device listener's mosquitto password file (every device's stored hash, or
    with ``--broker`` those of the devices on that broker) and, with ``--center-out``, the
    center listener's (the center user only)."""
    from control_center.db import create_db_engine, session_factory, upgrade_database
    from control_center.models import Device
    from control_center.security import mosquitto_hash
    from protocol.secret_files import write_secret_file

    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    with session_factory(engine)() as session:
        query = select(Device.id, Device.mqtt_password_hash).order_by(Device.id)
        if args.broker:
            query = query.where(Device.broker == args.broker)
        rows = session.execute(query)
        lines = [f"{device_id}:{pw_hash}" for device_id, pw_hash in rows]
    engine.dispose()
    out = Path(args.out)
    write_secret_file(out, "".join(line + "\n" for line in lines).encode())
    print(f"wrote {len(lines)} device user(s) to {out}")
    center_password = settings.mqtt_password
    if args.center_out and not center_password:
        log.warning("TT_MQTT_PASSWORD is not set: %s not written", args.center_out)
    elif args.center_out and center_password:
        line = f"{settings.mqtt_username}:{mosquitto_hash(center_password)}\n"
        write_secret_file(Path(args.center_out), line.encode())
        print(f"wrote the center user to {args.center_out}")
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


def _sign_in_link(settings: Settings, args: argparse.Namespace) -> int:
    """Print a one-time sign-in link for the pages (instead of a token in a URL)."""
    from urllib.parse import urlencode

    from control_center.accounts import links
    from control_center.core.actor import Actor
    from control_center.db import create_db_engine, session_factory, upgrade_database
    from control_center.errors import CenterError
    from protocol.base import utc_now

    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    try:
        with session_factory(engine)() as session:
            code = links.create_link(session, username=args.user,
                                     minutes=settings.sign_in_link_minutes,
                                     actor=Actor("cli"), now=utc_now())
    except CenterError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    query = f"?{urlencode({'next': args.next})}" if args.next else ""
    print(f"{settings.public_base_url}{links.LINK_PATH}/{code}{query}")
    print(f"valid once, for {settings.sign_in_link_minutes:g} minutes", file=sys.stderr)
    return 0


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{value}: give 1 to 64")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m control_center",
                                     description="Control center (settings from TT_* variables)")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API, the MQTT bridge and the refresher")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--new-signing-key", action="store_true",
                       help="create a new signing key when the key file is missing although "
                       "devices exist (every device must then be re-provisioned)")
    serve.add_argument("--workers", type=_positive, default=1,
                       help="API worker processes behind the one address (PostgreSQL only; "
                       "each also takes an ingest seat: docs/scaling.md)")
    serve.set_defaults(func=_serve)
    pub = sub.add_parser("pubkey", help="print the manifest signing public key (base64)")
    pub.set_defaults(func=_pubkey)
    mig = sub.add_parser("migrate", help="upgrade the database schema to the newest revision")
    mig.set_defaults(func=_migrate)
    rev = sub.add_parser("db-revision", help="autogenerate a migration (developers; review it)")
    rev.add_argument("-m", "--message", required=True)
    rev.set_defaults(func=_db_revision)
    pw = sub.add_parser("broker-passwd", help="write the broker's password files")
    pw.add_argument("--out", required=True,
                    help="the device listener's password_file (mode 0600)")
    pw.add_argument("--center-out", help="the center listener's password_file (mode 0600)")
    pw.add_argument("--broker", help="only the devices on this broker (docs/devices.md, "
                    "'Several brokers'); default: every device")
    pw.set_defaults(func=_broker_passwd)
    user = sub.add_parser("create-user", help="create a console user (password from "
                          "TT_NEW_USER_PASSWORD or a prompt)")
    user.add_argument("username")
    user.add_argument("--role", required=True,
                      choices=["admin", "operator", "approver", "technician", "feedback_officer"])
    user.add_argument("--unit", required=True, help="the unit's code")
    user.add_argument("--full-name", default="")
    user.set_defaults(func=_create_user)
    link = sub.add_parser("sign-in-link", help="print a one-time sign-in link for the pages "
                          "(valid once, TT_SIGN_IN_LINK_MINUTES, at most 10)")
    link.add_argument("--user", help="sign in as this console user (default: the monitoring "
                      "viewer, who sees the whole tree)")
    link.add_argument("--next", help="the page to open after signing in (default /monitor)")
    link.set_defaults(func=_sign_in_link)
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
