"""Fixtures shared by every test suite: a real Mosquitto broker and MQTT clients for it."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from firmware_sim.broker import MosquittoBroker, MosquittoNotInstalledError, find_executable
from tests.support.center import CenterHandle, running_center
from tests.support.databases import BACKENDS, Backend, Databases, activate, default_backend
from tests.support.mqtt import MqttClients
from tests.support.worker_gate import WorkerGate

# Modules that take a minute or more each. Under pytest-xdist (``./run.sh test``: one module
# per worker at a time, in collection order) they are handed out first, so that none of them
# starts near the end and keeps one worker busy long after the others are done. Modules with
# a test marked ``alone`` go last: the other workers then have little left to wait for.
LONG_MODULES = (
    "tests/security/test_api_fuzz.py",
    "tests/security/test_authorization_sweep.py",
    "tests/console/test_operator_day.py",
    "tests/console/test_crawl.py",
)
GATE = pytest.StashKey[WorkerGate]()

# What runs on PostgreSQL as well as on SQLite (a folder or a module, as in a test id): every
# test under it that uses the center or a database gets ``[sqlite]`` and ``[postgresql]``
# variants (the ``db_backend`` fixture), except those marked ``sqlite_only`` (about SQLite
# itself: its file, its locks, its pragmas). The rest of the suite runs on SQLite (all of it
# passed on PostgreSQL too: TT_TEST_DATABASE=postgresql): doubling the console, feedback and
# training suites would add ~8 minutes, so only their modules whose SQL differs are here.
BOTH_DATABASES = (
    "tests/center/",  # the API, ingest, manifests, rollouts (JSON), releases (aggregates), CLI
    "tests/console/test_calendar_week.py",  # dates across time zones, schedule instants
    "tests/console/test_audit.py",  # date-range filters, DISTINCT, ordering and paging
    "tests/console/test_distribution_api.py",  # GROUP BY counts per unit and play status
    "tests/console/test_monitor_scope.py",  # max(updated_at) per device, presence
    "tests/feedback/test_rate_limits.py",  # counts in a time window, flagged rows ordered
    "tests/training/test_quiz_api.py",  # attempt counts, max(number), unit reports
    "tests/training/test_xapi.py",  # statements since an instant, ordered
    "tests/telemetry/test_effectiveness.py",  # per-unit sums, coalesce, instants of a day
    "tests/federation/test_figures_up.py",  # upsert per (peer, unit, day), day strings compared
)


def _on_both_databases(definition: pytest.Function) -> bool:
    path = definition.nodeid.partition("::")[0]
    return (definition.get_closest_marker("sqlite_only") is None
            and any(path == entry or path.startswith(entry) for entry in BOTH_DATABASES))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the :data:`BOTH_DATABASES` tests once per backend, module by module (a module's
    shared broker and center are made once per backend, not once per test); ``sqlite_only``
    tests on SQLite whatever ``TT_TEST_DATABASE`` says."""
    if "db_backend" not in metafunc.fixturenames:
        return
    if _on_both_databases(metafunc.definition):
        metafunc.parametrize("db_backend", BACKENDS, indirect=True, scope="module")
    elif (metafunc.definition.get_closest_marker("sqlite_only") is not None
          and default_backend() != "sqlite"):
        metafunc.parametrize("db_backend", ("sqlite",), indirect=True, scope="module")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, move :data:`LONG_MODULES` to the front and ``alone`` tests to the
    end (a stable sort: a module's tests keep their order; a serial run keeps the plain one)."""
    if not hasattr(config, "workerinput"):
        return
    rank = {module: n for n, module in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: (item.get_closest_marker("alone") is not None,
                                 rank.get(item.nodeid.partition("::")[0], len(rank))))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item,
                            nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """On an xdist worker, run an ``alone`` test with no other test running on the other
    workers (:mod:`tests.support.worker_gate`); outside the hang guard's timer."""
    if not hasattr(item.config, "workerinput"):
        return (yield)
    gate = item.config.stash.get(GATE, None)
    if gate is None:  # the folder every worker of this session shares: the basetemp's parent
        gate = WorkerGate(Path(item.config.option.basetemp).parent / "worker-gate")
        item.config.stash[GATE] = gate
    with gate.alone() if item.get_closest_marker("alone") else gate.shared():
        return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    gate = config.stash.get(GATE, None)
    if gate is not None:
        gate.close()


@pytest.fixture(scope="session")
def mosquitto_installed() -> None:
    """Fail (not skip) every broker test when Mosquitto is missing, naming the install step."""
    try:
        find_executable("mosquitto")
        find_executable("mosquitto_passwd")
    except MosquittoNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """This worker's databases; its PostgreSQL starts when a test first asks for it."""
    found = Databases(tmp_path_factory.getbasetemp() / "databases")
    activate(found)
    try:
        yield found
    finally:
        activate(None)
        found.close()


@pytest.fixture(scope="module", autouse=True)
def db_backend(request: pytest.FixtureRequest, databases: Databases) -> Iterator[Backend]:
    """The database of this module's centers and engines: SQLite (or ``TT_TEST_DATABASE``)
    unless the module is in :data:`BOTH_DATABASES`, where it is parametrized over both."""
    backend: Backend = getattr(request, "param", None) or default_backend()
    with databases.selected(backend):
        yield backend


@pytest.fixture
def broker(tmp_path: Path, mosquitto_installed: None) -> Iterator[MosquittoBroker]:
    """A running broker (dev config, %u ACL, persistence) private to one test."""
    with MosquittoBroker(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def mqtt_clients(broker: MosquittoBroker) -> Iterator[MqttClients]:
    """Connects test clients to ``broker``; all are disconnected at teardown."""
    clients = MqttClients(broker.host, broker.port, center_port=broker.center_port,
                          center_password=broker.center_password)
    yield clients
    clients.close_all()


@pytest.fixture
def center(tmp_path: Path, broker: MosquittoBroker) -> Iterator[CenterHandle]:
    """A real control center (uvicorn, MQTT bridge, refresher) on ``broker``, private to one
    test (``tests/center`` shares one per module instead)."""
    with running_center(tmp_path / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password) as handle:
        yield handle
