"""Play-now commands, from accepted to played: an acknowledgement means it will play.

A ``play_now`` is refused at once (with the reason) when the player cannot take it; otherwise
it is stored (it survives a restart until it has played), queued with the command's expiry as
its deadline, and acknowledged ``accepted`` only once its media is in the cache, or
``rejected`` with the play's failure if it never could start. A live item (a microphone
session from the console) has nothing to download: it is accepted at once and plays until its
``ends_at`` or the stream's end.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent.downloader import Downloader
from edge_agent.media_cache import MediaCache
from edge_agent.play_outcome import OutcomeKind, PlayOutcome
from edge_agent.player import Player
from edge_agent.store import LocalStore
from edge_agent.supervision import FaultSink
from protocol.errors import ProtocolError
from protocol.events import CommandOutcome
from protocol.live import LiveContent
from protocol.manifest import AudioContent, Command, PlayItem, PlayNow
from protocol.signing import Verifier

log = logging.getLogger(__name__)
Ack = Callable[[str, CommandOutcome, str], None]
"""Sends a ``command_ack`` (command id, outcome, reason)."""


@dataclass(frozen=True, slots=True)
class _Awaiting:
    command_id: str
    sha256: str


class PlayNowCommands:
    def __init__(self, *, store: LocalStore, player: Player, downloader: Downloader,
                 cache: MediaCache, verifier: Verifier, ack: Ack, on_fault: FaultSink,
                 stall_after_s: float) -> None:
        self._store = store
        self._player = player
        self._downloader = downloader
        self._cache = cache
        self._verifier = verifier
        self._ack = ack
        self._on_fault = on_fault
        self._stall_after_s = stall_after_s
        self._awaiting: dict[str, _Awaiting] = {}  # item id -> not acknowledged yet

    def take(self, cmd: Command, item: PlayItem, raw: bytes) -> bool:
        """Queue a play-now item, or refuse it with the reason; False if refused."""
        refusal = self._player.refusal(self._stall_after_s)
        if refusal is None and not isinstance(item.content, AudioContent | LiveContent):
            refusal = "only audio can be played now on this device"
        if refusal is not None:
            self._ack(cmd.id, CommandOutcome.REJECTED, refusal)
            return False
        try:
            self._store.play_now_add(item.item_id, cmd.id, raw)
        except sqlite3.Error as exc:  # played all the same; only a restart would lose it
            self._on_fault("store", exc, f"play-now {item.item_id} kept in memory only")
        self._queue(cmd, item)
        return True

    def restore(self) -> None:
        """Queue again the play-now commands accepted before a restart and not yet played."""
        for item_id, raw in self._store.play_now_all():
            try:
                cmd = self._verifier.open_command(raw)
            except ProtocolError as exc:
                log.error("stored play-now %s no longer verifies: %s", item_id, exc)
                self._store.play_now_remove(item_id)
                continue
            if isinstance(cmd.action, PlayNow):
                self._queue(cmd, cmd.action.item)

    def media_ready(self, sha256: str) -> None:
        """Acknowledge every waiting play-now whose media just arrived."""
        for item_id, waiting in list(self._awaiting.items()):
            if waiting.sha256 == sha256:
                self._accepted(item_id)

    def played(self, outcome: PlayOutcome) -> None:
        """Acknowledge a waiting play-now by its play's outcome; forget it once it ended."""
        item_id = outcome.item.item_id
        waiting = self._awaiting.pop(item_id, None)
        if waiting is not None:
            failed = outcome.kind is OutcomeKind.FAILED
            self._ack(waiting.command_id,
                      CommandOutcome.REJECTED if failed else CommandOutcome.ACCEPTED,
                      outcome.reason if failed else "")
        if outcome.kind is not OutcomeKind.STARTED:
            try:
                self._store.play_now_remove(item_id)
            except sqlite3.Error as exc:
                log.error("could not clear play-now %s: %s", item_id, exc)

    def _queue(self, cmd: Command, item: PlayItem) -> None:
        if isinstance(item.content, LiveContent):  # nothing to download: it plays at once
            self._player.play_now(item, until=cmd.expires_at)
            self._ack(cmd.id, CommandOutcome.ACCEPTED, "")
            return
        assert isinstance(item.content, AudioContent)
        self._awaiting[item.item_id] = _Awaiting(cmd.id, item.content.sha256)
        self._downloader.add(item)
        self._player.play_now(item, until=cmd.expires_at)
        if self._cache.has(item.content.sha256):
            self._accepted(item.item_id)

    def _accepted(self, item_id: str) -> None:
        waiting = self._awaiting.pop(item_id, None)
        if waiting is not None:
            self._ack(waiting.command_id, CommandOutcome.ACCEPTED, "")
