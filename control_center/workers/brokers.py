"""Every broker of the registry, wired for the running center (docs/devices.md, "Several
brokers"): one bridge each behind the ``BrokerRouter``, and with dynamic security one
accounts client and one reconciler each behind the ``AccountsRouter``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from control_center.broker.accounts import BrokerAccounts, UnmanagedAccounts
from control_center.broker.dynsec import DynsecAccounts, DynsecOptions
from control_center.broker.registry import BrokerRegistry, load_registry
from control_center.broker.routing import (
    AccountsRouter,
    BrokerRouter,
    DeviceBrokers,
    client_id_on,
    connect_brokers,
)
from control_center.config import Settings
from control_center.mqtt_bridge import BatchHandler, MessageHandler
from control_center.services.broker_moves import complete_move
from control_center.services.brokers import broker_map, note_flushed_devices
from control_center.workers.broker_sync import BrokerSync
from protocol.events import CommandAck, CommandOutcome

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Brokers:
    """The bridges, accounts and reconcilers of every broker; ``main``'s are also the
    center's ``dynsec`` and ``broker_sync``."""

    registry: BrokerRegistry
    devices: DeviceBrokers
    router: BrokerRouter
    accounts: AccountsRouter
    dynsec: dict[str, DynsecAccounts] = field(default_factory=dict)
    syncs: dict[str, BrokerSync] = field(default_factory=dict)

    def start_accounts(self) -> None:
        for client in self.dynsec.values():
            client.start()  # connects in the background, like the bridges

    def stop_accounts(self) -> None:
        for client in self.dynsec.values():
            client.stop()

    def start_syncs(self) -> None:
        """The reconcilers, each with a first run now (not after a full interval)."""
        for sync in self.syncs.values():
            sync.start()
            sync.nudge()

    def stop_syncs(self) -> None:
        for sync in self.syncs.values():
            sync.stop()

    def move_acknowledged(self, ack: CommandAck, sessions: sessionmaker[Session],
                          now: datetime) -> None:
        """A command acknowledgement: completes a ``move_broker`` if it answers one."""
        try:
            with sessions() as session:
                complete_move(session, self.accounts, command_id=ack.command_id,
                              accepted=ack.outcome == CommandOutcome.ACCEPTED, now=now)
        except Exception:  # the database or a broker failed: the device stays where it is
            log.exception("broker move of %s not completed", ack.device_id)


def build_brokers(
    settings: Settings, *, sessions: sessionmaker[Session],
    read_sessions: sessionmaker[Session], client_id: str,
    subscriptions: Sequence[str], on_message: MessageHandler,
    on_connected: Callable[[str, bool], None], on_messages: BatchHandler | None = None,
) -> Brokers:
    """Everything for the brokers of ``settings`` (TT_MQTT_* and TT_BROKERS_FILE), not started.
    ``client_id``: the center's on ``main`` (``<client_id>-<name>`` on the others).
    Devices' brokers are read through ``read_sessions`` (a registration holds the write lock
    while its account is created) and noted from flushes of ``sessions``."""
    registry = load_registry(settings)
    devices = broker_map(read_sessions)
    note_flushed_devices(sessions, devices)
    router = connect_brokers(registry, devices=devices, client_id=client_id,
                             session_expiry_s=settings.mqtt_session_expiry_s,
                             subscriptions=subscriptions, on_message=on_message,
                             on_messages=on_messages, on_connected=on_connected)
    if settings.broker_accounts != "dynsec":
        unmanaged: dict[str, BrokerAccounts] = {b.name: UnmanagedAccounts() for b in registry}
        return Brokers(registry, devices, router, AccountsRouter(unmanaged, devices))
    dynsec: dict[str, DynsecAccounts] = {}
    syncs: dict[str, BrokerSync] = {}
    for broker in registry:
        dynsec[broker.name] = DynsecAccounts(
            DynsecOptions(host=broker.host, port=broker.port, username=broker.username,
                          password=broker.password,
                          client_id=f"{client_id_on(broker.name, client_id)}-accounts",
                          timeout_s=settings.broker_account_timeout_s),
            on_connected=_nudge(syncs, broker.name))
        syncs[broker.name] = BrokerSync(accounts=dynsec[broker.name], sessions=sessions,
                                        interval_s=settings.broker_sync_s,
                                        center_username=broker.username, broker=broker.name)
    accounts = AccountsRouter(dict[str, BrokerAccounts](dynsec), devices)
    return Brokers(registry, devices, router, accounts, dynsec, syncs)


def _nudge(syncs: dict[str, BrokerSync], name: str) -> Callable[[], None]:
    """Wake a broker's reconciler (runs in its accounts client's loop thread)."""
    return lambda: syncs[name].nudge()


