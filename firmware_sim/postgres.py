"""A throwaway PostgreSQL cluster run as a child process, for tests and the benchmarks.

``initdb`` makes the cluster in ``data_dir/cluster``; ``postgres`` listens on a free port of
127.0.0.1 with its unix socket in ``data_dir`` too, so it never meets the system's cluster on
5432. Authentication is ``trust`` for the ``postgres`` user on loopback only: good enough for a
cluster that lives as long as a test session, never for a real one.

PostgreSQL refuses to run as root: when we are root, ``initdb``, ``postgres`` and ``pg_ctl`` run
as the ``postgres`` OS user (``runuser``) and ``data_dir`` is handed to that user. Debian keeps
the binaries in ``/usr/lib/postgresql/<major>/bin``, off ``PATH``; both are searched.

``durable=False`` (the tests' default) turns off fsync, synchronous commit and full-page
writes: a crash may lose the cluster, which a test does not care about. Benchmarks pass
``durable=True`` to measure what production would.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

from firmware_sim.local_server import LocalServer, free_port

INSTALL_HINT = "run ./run.sh test (installs it) or apt-get install postgresql-15"
OS_USER = "postgres"
SUPERUSER = "postgres"
BIN_GLOBS = ("/usr/lib/postgresql/*/bin",)
MAX_CONNECTIONS = 200  # several center processes, each with a pool, plus the tests' own


class PostgresError(RuntimeError):
    """The PostgreSQL server could not be initialised, started, stopped or asked."""


class PostgresNotInstalledError(PostgresError):
    """initdb, postgres or pg_ctl is missing."""


def find_bin_dir() -> Path:
    """The directory holding ``initdb``, ``postgres``, ``pg_ctl`` and ``pg_isready``."""
    candidates = sorted(glob.glob(BIN_GLOBS[0]), key=_major, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if all((Path(candidate) / name).is_file() for name in ("initdb", "postgres", "pg_ctl")):
            return Path(candidate)
    raise PostgresNotInstalledError(f"initdb not found: {INSTALL_HINT}")


def _major(bin_dir: str) -> int:
    version = Path(bin_dir).parent.name
    return int(version) if version.isdigit() else 0


class PostgresServer(LocalServer):
    """One ``postgres`` on 127.0.0.1 with its cluster, socket and log in ``data_dir``.

    :meth:`create_database` makes an empty database and returns its SQLAlchemy URL.
    ``restart()`` keeps the port and the cluster.
    """

    name = "postgres"
    error = PostgresError
    output_file = "postgres.log"
    poll_interval = 0.02

    def __init__(self, data_dir: Path, *, durable: bool = False,
                 max_connections: int = MAX_CONNECTIONS, start_timeout: float = 30.0,
                 stop_timeout: float = 15.0) -> None:
        super().__init__(data_dir, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._durable = durable
        self._max_connections = max_connections
        self._port: int | None = None
        self._bin: Path | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise PostgresError("postgres has no port yet: call start() first")
        return self._port

    @property
    def url(self) -> str:
        """The server's URL (the ``postgres`` maintenance database)."""
        return self.database_url(SUPERUSER)

    @property
    def cluster_dir(self) -> Path:
        return self._data_dir / "cluster"

    def database_url(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        """Create the empty database ``name`` (a plain identifier) and return its URL."""
        if not name.isidentifier() or name.lower() != name:
            raise PostgresError(f"database name {name!r}: use lower-case letters, digits and _")
        self.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, disconnecting whoever is still in it."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction in the maintenance database."""
        import psycopg  # the test/bench side needs it; the center imports it through SQLAlchemy

        try:
            with psycopg.connect(host=self.host, port=self.port, user=SUPERUSER,
                                 dbname="postgres", autocommit=True, connect_timeout=5) as conn:
                conn.execute(sql.encode())
        except psycopg.Error as exc:
            raise PostgresError(f"{sql!r} on {self.url}: {exc}") from exc

    # --- LocalServer ---------------------------------------------------------------------

    def _prepare(self) -> None:
        self._bin = find_bin_dir()
        super()._prepare()
        if _running_as_root():
            pw = pwd.getpwnam(OS_USER)
            os.chown(self._data_dir, pw.pw_uid, pw.pw_gid)
            _let_owner_through(self._data_dir.parent)
        if not (self.cluster_dir / "PG_VERSION").exists():
            self._initdb()

    def _initdb(self) -> None:
        argv = [str(self._tool("initdb")), "-D", str(self.cluster_dir), "-U", SUPERUSER,
                "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"]
        if not self._durable:
            argv.append("--no-sync")
        done = subprocess.run(self._as_owner(argv), capture_output=True, text=True, check=False,
                              timeout=120)
        if done.returncode != 0:
            raise PostgresError(f"initdb failed ({done.returncode}):\n{done.stderr[-2000:]}")
        hba = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        _write_as_owner(self.cluster_dir / "pg_hba.conf", hba)

    def _ports_fixed(self) -> bool:
        return self._port is not None

    def _pick_ports(self) -> None:
        self._port = free_port()

    def _launch(self) -> subprocess.Popen[bytes]:
        argv = [str(self._tool("postgres")), "-D", str(self.cluster_dir),
                "-p", str(self._port), "-c", f"listen_addresses={self.host}",
                "-c", f"unix_socket_directories={self._data_dir}",
                "-c", f"max_connections={self._max_connections}"]
        if not self._durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off"]
        return self._spawn(self._as_owner(argv))

    def _ready(self) -> bool:
        """``pg_isready`` says the server accepts connections."""
        done = subprocess.run(
            [str(self._tool("pg_isready")), "-q", "-h", self.host, "-p", str(self._port),
             "-U", SUPERUSER, "-t", "1"], capture_output=True, check=False, timeout=5)
        return done.returncode == 0

    def stop(self) -> None:
        """``pg_ctl stop -m fast`` (rolls back open transactions), then the base class's wait."""
        if self.running and self._bin is not None:
            subprocess.run(self._as_owner(
                [str(self._tool("pg_ctl")), "stop", "-D", str(self.cluster_dir), "-m", "fast",
                 "-t", str(int(self._stop_timeout))]), capture_output=True, check=False,
                timeout=self._stop_timeout + 5)
        super().stop()

    # --- helpers -------------------------------------------------------------------------

    def _tool(self, name: str) -> Path:
        assert self._bin is not None
        return self._bin / name

    def _as_owner(self, argv: Sequence[str]) -> list[str]:
        return ["runuser", "-u", OS_USER, "--", *argv] if _running_as_root() else list(argv)


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _let_owner_through(directory: Path) -> None:
    """Give others search (not read) permission on ``directory`` and its ancestors where it is
    missing, so the ``postgres`` user reaches its data directory inside a 0700 temp dir."""
    for path in (directory, *directory.parents):
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(path, stat.S_IMODE(mode) | stat.S_IXOTH)


def _write_as_owner(path: Path, text: str) -> None:
    """Rewrite a file initdb made (owned by the ``postgres`` user when we are root)."""
    owner = path.stat()
    path.write_text(text, encoding="utf-8")
    os.chown(path, owner.st_uid, owner.st_gid)
