"""Device accounts managed live through Mosquitto's dynamic-security plugin (real broker).

``DynsecAccounts`` against the project's dev broker; the reconciler against a real center on
the same broker. One broker, one accounts client and one center for the whole module.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from control_center.broker.accounts import BrokerRefused, BrokerUnavailable
from control_center.broker.dynsec import DynsecAccounts, DynsecOptions
from control_center.config import get_settings
from control_center.errors import ConfigError
from control_center.models import Device
from firmware_sim.broker import MosquittoBroker, probe_login
from firmware_sim.dynsec_control import run_commands
from tests.support.center import CenterHandle, running_center
from tests.support.mqtt import NOT_AUTHORIZED, ConnectRefusedError, connect_client
from tests.support.tree import add_device, add_unit
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ACCEPTED = 0
REFUSED_311 = 5  # MQTT 3.1.1 CONNACK "not authorised"
TIMEOUT_S = 3.0


def accounts_for(broker: MosquittoBroker, timeout_s: float = TIMEOUT_S) -> DynsecAccounts:
    accounts = DynsecAccounts(DynsecOptions(
        host=broker.host, port=broker.center_port, username="center",
        password=broker.center_password, client_id=f"test-accounts-{time.monotonic_ns()}",
        timeout_s=timeout_s, reconnect_min_s=1, reconnect_max_s=1))
    accounts.start()
    wait_until(lambda: accounts.connected, 10, "the accounts client to connect",
               interval=0.01)
    return accounts


@pytest.fixture(scope="module")
def accounts(module_broker: MosquittoBroker) -> Iterator[DynsecAccounts]:
    client = accounts_for(module_broker)
    yield client
    client.stop()


def login(broker: MosquittoBroker, user: str, password: str, client_id: str | None = None
          ) -> int:
    return probe_login(broker.host, broker.port, user, password, client_id=client_id)


def test_a_created_account_logs_in_with_its_own_client_id_only(
    module_broker: MosquittoBroker, accounts: DynsecAccounts,
) -> None:
    accounts.create("loa-c1", "pw-c1")

    assert login(module_broker, "loa-c1", "pw-c1") == ACCEPTED
    assert login(module_broker, "loa-c1", "pw-c1", client_id="loa-other") == REFUSED_311
    with pytest.raises(ConnectRefusedError) as refused:
        connect_client(module_broker.host, module_broker.port, "loa-c1", "pw-c1",
                       client_id="not-loa-c1")
    assert refused.value.reason.value == NOT_AUTHORIZED


def test_disable_disconnects_at_once_and_refuses_until_enabled(
    module_broker: MosquittoBroker, accounts: DynsecAccounts,
) -> None:
    accounts.create("loa-d1", "pw-d1")
    device = connect_client(module_broker.host, module_broker.port, "loa-d1", "pw-d1")
    try:
        started = time.monotonic()
        accounts.disable("loa-d1")
        wait_until(lambda: device.disconnects >= 1, 1.0, "the broker to drop loa-d1",
                   interval=0.005)
        assert time.monotonic() - started < 1.0
    finally:
        device.close()

    assert login(module_broker, "loa-d1", "pw-d1") == REFUSED_311
    with pytest.raises(ConnectRefusedError) as refused:
        connect_client(module_broker.host, module_broker.port, "loa-d1", "pw-d1")
    assert refused.value.reason.value == NOT_AUTHORIZED
    assert accounts.list_clients()["loa-d1"] is False

    accounts.enable("loa-d1")
    assert login(module_broker, "loa-d1", "pw-d1") == ACCEPTED
    assert accounts.list_clients()["loa-d1"] is True


def test_delete_refuses_and_a_second_delete_is_fine(
    module_broker: MosquittoBroker, accounts: DynsecAccounts,
) -> None:
    accounts.create("loa-x1", "pw-x1")
    accounts.delete("loa-x1")
    accounts.delete("loa-x1")  # "Client not found" means done
    accounts.disable("loa-x1")  # nothing left to disable: done too

    assert login(module_broker, "loa-x1", "pw-x1") == REFUSED_311
    assert "loa-x1" not in accounts.list_clients()
    with pytest.raises(BrokerRefused, match="Client not found"):
        accounts.enable("loa-x1")


def test_set_password_and_create_again(
    module_broker: MosquittoBroker, accounts: DynsecAccounts,
) -> None:
    accounts.create("loa-p1", "old")
    accounts.set_password("loa-p1", "new")
    assert login(module_broker, "loa-p1", "old") == REFUSED_311
    assert login(module_broker, "loa-p1", "new") == ACCEPTED

    accounts.disable("loa-p1")
    accounts.create("loa-p1", "again")  # exists: new password, enabled, client id bound
    assert login(module_broker, "loa-p1", "new") == REFUSED_311
    assert login(module_broker, "loa-p1", "again") == ACCEPTED
    assert login(module_broker, "loa-p1", "again", client_id="x") == REFUSED_311


def test_the_centers_own_account_is_never_touched(accounts: DynsecAccounts) -> None:
    with pytest.raises(BrokerRefused, match="center's own"):
        accounts.disable("center")


def test_concurrent_creates_share_messages(
    module_broker: MosquittoBroker, accounts: DynsecAccounts,
) -> None:
    names = [f"bulk-{i:03d}" for i in range(200)]
    before = dict(accounts.counters)
    barrier = threading.Barrier(len(names))
    failures: list[BaseException] = []

    def create(name: str) -> None:
        barrier.wait()
        try:
            accounts.create(name, f"pw-{name}")
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert failures == []
    messages = accounts.counters["messages"] - before.get("messages", 0)
    commands = accounts.counters["commands"] - before.get("commands", 0)
    assert commands == len(names)
    assert messages < commands / 4, (messages, commands)
    listed = accounts.list_clients()
    assert all(listed.get(n) is True for n in names)
    assert login(module_broker, names[0], f"pw-{names[0]}") == ACCEPTED
    assert login(module_broker, names[-1], f"pw-{names[-1]}") == ACCEPTED


def test_a_stopped_broker_gives_broker_unavailable_in_time(broker: MosquittoBroker) -> None:
    client = accounts_for(broker, timeout_s=1.5)
    try:
        client.create("loa-u1", "pw")
        broker.stop()
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            client.create("loa-u2", "pw")
        assert time.monotonic() - started < 1.5 + 0.5

        broker.start()  # same ports and plugin file: the client comes back by itself
        wait_until(lambda: client.connected, 10, "the accounts client to reconnect",
                   interval=0.01)
        client.create("loa-u2", "pw")
        assert login(broker, "loa-u2", "pw") == ACCEPTED
        assert login(broker, "loa-u1", "pw") == ACCEPTED  # saved by the plugin before the stop
    finally:
        client.stop()


def test_refused_center_credentials_fail_fast(module_broker: MosquittoBroker) -> None:
    client = DynsecAccounts(DynsecOptions(
        host=module_broker.host, port=module_broker.center_port, username="center",
        password="wrong", client_id="test-accounts-wrong", timeout_s=TIMEOUT_S))
    client.start()
    try:
        def refused() -> bool:
            try:
                client.list_clients()
            except BrokerUnavailable as exc:
                return "credentials" in str(exc)
            return False

        wait_until(refused, 5, "a clear refusal", interval=0.05)
    finally:
        client.stop()


def test_the_default_acl_access_is_reset_to_deny_on_connect(
    module_broker: MosquittoBroker,
) -> None:
    """``mosquitto_ctrl dynsec init`` leaves publishClientReceive on allow, which would answer
    before the ACL file: the center sets every default to deny when it connects."""
    def defaults() -> dict[str, bool]:
        answer = run_commands(module_broker.host, module_broker.center_port, "center",
                              module_broker.center_password,
                              [{"command": "getDefaultACLAccess"}])[0]
        return {a["acltype"]: a["allow"] for a in answer["data"]["acls"]}

    run_commands(module_broker.host, module_broker.center_port, "center",
                 module_broker.center_password,
                 [{"command": "setDefaultACLAccess",
                   "acls": [{"acltype": "publishClientReceive", "allow": True}]}])
    assert defaults()["publishClientReceive"] is True

    client = accounts_for(module_broker)
    try:
        client.list_clients()  # answered after the reset, which goes first
    finally:
        client.stop()
    assert defaults() == {"publishClientSend": False, "publishClientReceive": False,
                          "subscribe": False, "unsubscribe": False}


def test_broker_accounts_setting() -> None:
    assert get_settings({"TT_DATA_DIR": "/tmp/x", "TT_API_TOKEN": "t" * 20}).broker_accounts \
        == "dynsec"
    with pytest.raises(ConfigError, match="dynsec, unmanaged"):
        get_settings({"TT_DATA_DIR": "/tmp/x", "TT_API_TOKEN": "t" * 20,
                      "TT_BROKER_ACCOUNTS": "files"})


# --- the center: wiring and the reconciler ---------------------------------------------------


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory,
           module_broker: MosquittoBroker) -> Iterator[CenterHandle]:
    with running_center(tmp_path_factory.mktemp("center"), mqtt_host=module_broker.host,
                        mqtt_port=module_broker.center_port,
                        mqtt_password=module_broker.center_password,
                        broker_account_timeout_s=TIMEOUT_S) as handle:
        sync = handle.center.broker_sync
        assert sync is not None and sync.wait_for_runs(1, 10)  # the run on connect
        yield handle


def test_the_center_creates_accounts_and_reconciles(
    center: CenterHandle, module_broker: MosquittoBroker, tmp_path: Path,
) -> None:
    sync = center.center.broker_sync
    assert sync is not None
    unit = add_unit(center.api, "xa-r", "commune")
    kept = add_device(center.api, "loa-r1", unit)
    retired = add_device(center.api, "loa-r2", unit)
    assert login(module_broker, "loa-r1", kept["mqtt_password"]) == ACCEPTED

    # Retired through the API; its account enabled again behind the center's back.
    response = center.api.post("/api/v1/devices/loa-r2/retire", json={"reason": "test"})
    assert response.status_code == 200, response.text
    assert login(module_broker, "loa-r2", retired["mqtt_password"]) == REFUSED_311
    module_broker.enable_user("loa-r2")
    # A stray account no device owns.
    module_broker.add_user("loa-stray", "pw-stray")
    # An enrolled device whose account is gone.
    with center.center.sessions() as session:
        device = session.get(Device, "loa-r1")
        assert device is not None
        device.enrolled_at = device.created_at
        session.commit()
    module_broker.remove_user("loa-r1")

    first = sync.run_once()  # the stray account seen once: maybe a device being registered
    assert first["disabled_inactive"] == 1
    assert first["missing_accounts"] == 1
    assert login(module_broker, "loa-r2", retired["mqtt_password"]) == REFUSED_311
    assert login(module_broker, "loa-stray", "pw-stray") == ACCEPTED

    second = sync.run_once()
    assert second["disabled_unknown"] >= 1  # the stray one (and earlier tests' accounts)
    assert second["missing_accounts"] == 0  # warned once
    assert second["disabled_inactive"] == 0
    assert login(module_broker, "loa-stray", "pw-stray") == REFUSED_311
    assert login(module_broker, "center", module_broker.center_password) == ACCEPTED
