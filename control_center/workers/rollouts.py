"""The rollout worker: runs ``services.rollouts.step`` for every running rollout after each
update report (``nudge``) and every ``interval_s``, and sends the waves that come due.

Each device of a wave gets a signed ``update`` command (one hour to live) naming the
release's signed manifest; the command is a ``DeviceCommand`` row (kind ``update``) and a
``command`` audit entry attributed to the rollout's creator. A command the broker did not
take puts the device back to waiting: the next round sends it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from control_center.broker.routing import Publisher
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.errors import BrokerUnavailable
from control_center.models import (
    CommandKind,
    CommandResult,
    DeviceCommand,
    Rollout,
    RolloutDevice,
)
from control_center.models import RolloutDeviceState as Rd
from control_center.services import commands, releases, rollouts
from protocol.manifest import Command, UpdateAgent
from protocol.signing import Signer

log = logging.getLogger(__name__)

DOWNLOAD_ALLOWANCE = timedelta(minutes=15)
"""Beyond ``confirm_within_s``: how long a device may take to receive the command, download
and install before its update counts as timed out."""
COMMAND_TTL = timedelta(hours=1)
COMMAND_ACTION = "command"


class RolloutWorker:
    def __init__(self, *, sessions: sessionmaker[Session], signer: Signer, bridge: Publisher,
                 public_base_url: str, clock: Callable[[], datetime], publish_timeout_s: float,
                 interval_s: float = 5.0,
                 download_allowance: timedelta = DOWNLOAD_ALLOWANCE) -> None:
        self._sessions, self._signer, self._bridge = sessions, signer, bridge
        self._public_base_url, self._clock = public_base_url, clock
        self._publish_timeout_s, self._interval = publish_timeout_s, interval_s
        self.download_allowance = download_allowance
        self._wake = threading.Event()
        self._round = threading.Lock()  # one round at a time: a wave is never sent twice
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()  # startable again after stop (an elected role)
        self._thread = threading.Thread(target=self._run, name="rollouts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def nudge(self) -> None:
        """Run a round soon (an update report or a new rollout arrived)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_round()
            except Exception:
                log.exception("rollout round failed; retrying in %.0f s", self._interval)
            self._wake.wait(self._interval)

    def run_round(self) -> None:
        """One step of every running rollout, sending what came due."""
        with self._round, self._sessions() as session:
            for rollout_id in rollouts.running_ids(session):
                rollout = session.get(Rollout, rollout_id)
                if rollout is None:
                    continue
                due = rollouts.step(session, rollout=rollout, now=self._clock(),
                                    allowance=self.download_allowance)
                session.commit()
                if due is not None:
                    self._send(session, rollout, due.devices)

    def _send(self, session: Session, rollout: Rollout, rows: list[RolloutDevice]) -> None:
        release = releases.get_release(session, version=rollout.version)
        releases.signed_by_current_key(session, release=release, signer=self._signer)
        action = UpdateAgent(release=releases.release_ref(
            release, public_base_url=self._public_base_url), rollout_id=rollout.id,
            confirm_within_s=rollout.confirm_within_s)
        actor = Actor(name=f"{rollout.created_by} (rollout {rollout.id})"[:100],
                      unit_id=rollout.unit_id)
        now = self._clock()
        sent: list[tuple[RolloutDevice, DeviceCommand, Command]] = []
        for row in rows:
            command = commands.new_command(device_id=row.device_id, action=action, now=now,
                                           ttl=COMMAND_TTL)
            record = DeviceCommand(device_id=row.device_id, at=now, actor=actor.name,
                                   actor_unit_id=actor.unit_id, kind=CommandKind.UPDATE,
                                   result=CommandResult.SENT, flagged=False,
                                   command_id=command.id, expires_at=command.expires_at)
            session.add(record)
            row.state, row.sent_at, row.command_id = Rd.SENT, now, command.id
            row.reason = ""
            self._audit(session, actor, row, command, CommandResult.SENT, now)
            sent.append((row, record, command))
        session.commit()
        log.info("rollout %s: wave %s (%d devices) of %s", rollout.id, rows[0].wave, len(rows),
                 rollout.version)
        for index, (_, _, command) in enumerate(sent):
            try:
                commands.publish_command(command, signer=self._signer, bridge=self._bridge,
                                         timeout_s=self._publish_timeout_s)
            except BrokerUnavailable as exc:
                self._unsent(session, actor, sent[index:], reason=str(exc), now=now)
                return

    def _unsent(self, session: Session, actor: Actor,
                unsent: list[tuple[RolloutDevice, DeviceCommand, Command]], *, reason: str,
                now: datetime) -> None:
        """The broker took none of these: their devices wait for the next round."""
        for row, record, command in unsent:
            row.state, row.sent_at, row.command_id = Rd.WAITING, None, None
            row.reason = f"máy chủ MQTT không nhận lệnh, gửi lại sau / not sent: {reason}"[:500]
            record.result, record.reason, record.flagged = (CommandResult.UNDELIVERED,
                                                            reason[:500], True)
            self._audit(session, actor, row, command, CommandResult.UNDELIVERED, now)
        session.commit()
        log.warning("rollout: %d update command(s) not taken by the broker: %s", len(unsent),
                    reason)

    @staticmethod
    def _audit(session: Session, actor: Actor, row: RolloutDevice, command: Command,
               result: CommandResult, now: datetime) -> None:
        assert isinstance(command.action, UpdateAgent)
        audit.record(session, actor=actor, action=COMMAND_ACTION, object_type="device",
                     object_id=row.device_id, at=now, flagged=result != CommandResult.SENT,
                     detail={"kind": CommandKind.UPDATE.value, "result": result.value,
                             "version": command.action.release.version,
                             "rollout_id": row.rollout_id, "wave": row.wave,
                             "command_id": command.id,
                             "expires_at": command.expires_at.isoformat()})
