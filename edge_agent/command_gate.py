"""The gate every command passes before the agent acts on it: signature, addressee, replay,
validity. A command refused here is counted, and answered when it can be."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel

from edge_agent.clock import Clock
from edge_agent.events import EventFactory
from edge_agent.store import LocalStore
from protocol.errors import ProtocolError
from protocol.events import CommandOutcome
from protocol.manifest import Command
from protocol.signing import Verifier

log = logging.getLogger(__name__)

Ack = Callable[[str, CommandOutcome, str], None]


class CommandGate:
    def __init__(self, *, device_id: str, verifier: Verifier, store: LocalStore, clock: Clock,
                 refusals: Counter[str], events: EventFactory,
                 emit: Callable[[BaseModel], None], ack: Ack) -> None:
        self._device_id = device_id
        self._verifier = verifier
        self._store = store
        self._clock = clock
        self._refusals = refusals
        self._events = events
        self._emit = emit
        self._ack = ack

    def admit(self, raw: bytes) -> Command | None:
        """The verified command, or None when it must not be acted on (already answered)."""
        try:
            cmd = self._verifier.open_command(raw)
        except ProtocolError as exc:
            log.warning("command refused: %s", exc)
            self._refusals[f"cmd:{type(exc).__name__}"] += 1
            self._emit(self._events.rejected("cmd", f"{type(exc).__name__}: {exc}"))
            return None
        if cmd.device_id != self._device_id:
            self._refusals["cmd:wrong_device"] += 1
            self._ack(cmd.id, CommandOutcome.REJECTED, f"command is for {cmd.device_id!r}")
            return None
        if self._store.command_seen(cmd.id, cmd.expires_at.timestamp()):
            self._refusals["cmd:replay"] += 1
            return None  # a redelivery of a command already handled
        now = self._clock.now()
        if now > cmd.expires_at:
            self._refusals["cmd:expired"] += 1
            late = (now - cmd.expires_at).total_seconds()
            self._ack(cmd.id, CommandOutcome.EXPIRED,
                      f"missed: arrived {late:.0f} s after its validity ended at "
                      f"{cmd.expires_at.isoformat()}")
            return None
        return cmd
