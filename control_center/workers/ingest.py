"""Store what devices report over MQTT: status (birth/will) and de-duplicated events.

The topic's device id is authoritative (the broker ACL lets a device write only its own
topics): a payload naming another device is refused. Each event is stored once, keyed by
its event_id, so at-least-once delivery becomes exactly-once at the center.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from control_center.feedback.service import record_submission
from control_center.feedback.surveys import record_answer
from control_center.models import Device, DeviceEventRecord, DeviceState, PlayLog
from control_center.services import broadcasts, rollout_events
from control_center.services.manifest_lag import devices_behind
from control_center.services.plays import apply_play_event, play_rows
from control_center.telemetry.monitor import record_status_change
from control_center.training.kiosk import UnscorableAttempt, record_kiosk_attempt
from protocol import codec
from protocol.errors import MalformedMessage, TopicError, UnsupportedVersion
from protocol.events import (
    CommandAck,
    DeviceEvent,
    DeviceKind,
    ManifestAccepted,
    PlayCompleted,
    PlayFailed,
    PlayInterrupted,
    PlayShown,
    PlayStarted,
    Status,
    UpdateReport,
)
from protocol.feedback import FeedbackSubmitted, SurveyAnswered
from protocol.topics import Channel, parse_topic
from protocol.training import QuizAttemptSubmitted

log = logging.getLogger(__name__)

_LOG_PAYLOAD_CHARS = 200
_STORE_ATTEMPTS = 3
T = TypeVar("T")


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class Ingestor:
    """Handles one MQTT message at a time (called from the MQTT loop thread)."""

    def __init__(self, *, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 republish_settle_s: float = 10.0,
                 on_behind: Callable[[str], object] | None = None,
                 on_ack: Callable[[CommandAck], object] | None = None,
                 on_update: Callable[[], object] | None = None) -> None:
        """``on_behind(device_id)``: a birth reported an older manifest version than the one
        published to the device ``republish_settle_s`` or more ago (``workers.republish``);
        ``on_ack(ack)``: a command acknowledgement was stored (once per acknowledgement);
        ``on_update()``: an update report or a command acknowledgement was stored (rollouts
        may move on)."""
        self._on_ack = on_ack
        self._on_update = on_update
        self._sessions = sessions
        self._clock = clock
        self._settle = timedelta(seconds=republish_settle_s)
        self._on_behind = on_behind
        self._cond = threading.Condition()
        self.counters: Counter[str] = Counter()
        """'event', 'status', 'duplicate', 'refused:<reason>' and 'kiosk_score_corrected' (a
        kiosk quiz attempt whose reported score the center's re-scoring changed) and
        'survey_answer_dropped' (an answer to an unknown or closed question, or a choice out of
        range: stored as an event, not counted) counts; the
        receiver adds 'error:database', 'error:handler', 'dead_letter', 'spooled', 'queued',
        'replayed' and 'replay_failed' (docs/protocol.md)."""

    def handle(self, topic: str, payload: bytes) -> bool:
        """Process one message (True: done with it, stored or refused for good).

        Raises ``OperationalError`` when the database still fails after a few short retries:
        the caller (``workers.receiver``) keeps the message as a dead letter.
        """
        try:
            outcome = self._handle(topic, payload)
        except _Refused as exc:
            outcome = f"refused:{exc.reason}"
            log.warning("ingest: refused %s (%s): %s; payload=%r", topic[:120], exc.reason, exc,
                        payload[:_LOG_PAYLOAD_CHARS])
        self.count(outcome)
        return True

    def handle_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Process messages in arrival order: each run of births and wills, manifest
        acknowledgements and play events in one transaction (a play instant or a broker
        restart on thousands of devices is thousands of them), anything else one by one as
        :meth:`handle` does.

        Raises ``OperationalError`` as :meth:`handle` does; a batch's transaction stores all of
        its events or none, so the caller may then hand every message to :meth:`handle`
        (a message stored before the failure is found again by its event id)."""
        batch: list[tuple[DeviceEvent | Status, bytes]] = []
        for topic, payload in messages:
            event = self._batchable(topic, payload)
            if event is None:
                self._store_batch(batch)
                self.handle(topic, payload)
            else:
                batch.append((event, payload))
        self._store_batch(batch)

    @staticmethod
    def _batchable(topic: str, payload: bytes) -> DeviceEvent | Status | None:
        """The status or event, when it is one the batch path stores (anything refused or of
        another kind goes the single path, which counts and logs it)."""
        try:
            parsed = parse_topic(topic)
            message: DeviceEvent | Status
            if parsed.channel == Channel.STATUS and payload:
                message = codec.decode_status(payload)
            elif parsed.channel == Channel.EVENT:
                message = codec.decode_event(payload)
                if not isinstance(message, _BATCHED):
                    return None
            else:
                return None
        except (TopicError, MalformedMessage, UnsupportedVersion):
            return None
        return message if message.device_id == parsed.device_id else None

    def _store_batch(self, batch: list[tuple[DeviceEvent | Status, bytes]]) -> None:
        if not batch:
            return
        outcomes, behind = self._retrying(lambda s: self._store_events(s, batch))
        batch.clear()
        for outcome in outcomes:
            if outcome.startswith("refused:"):
                log.warning("ingest: refused a message (%s)", outcome)
            self.count(outcome)
        if self._on_behind is not None:
            for device_id in behind:
                self._on_behind(device_id)

    def _store_events(self, session: Session, batch: list[tuple[DeviceEvent | Status, bytes]]
                      ) -> tuple[list[str], list[str]]:
        """Store a batch of births, wills, acknowledgements and play events in arrival order:
        the devices, the events already stored and the play rows read with one query each.
        Returns each message's outcome and the devices whose birth showed an old manifest."""
        ids = sorted({message.device_id for message, _ in batch})
        devices = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(ids)))}
        events = [e for e, _ in batch if not isinstance(e, Status)]
        seen = set(session.scalars(select(DeviceEventRecord.event_id).where(
            DeviceEventRecord.event_id.in_([e.event_id for e in events]))))
        plays = play_rows(session, keys={(e.device_id, e.item_id) for e in events
                                         if isinstance(e, _PLAYS)})
        now = self._clock()
        outcomes: list[str] = []
        behind: list[str] = []
        for event, raw in batch:
            device = devices.get(event.device_id)
            if device is None:
                outcomes.append("refused:unknown_device")
            elif isinstance(event, Status):
                if self._store_status(session, event):
                    behind.append(event.device_id)
                outcomes.append("status")
            elif event.event_id in seen:
                outcomes.append("duplicate")  # a redelivery: already stored once
            else:
                seen.add(event.event_id)
                self._record(session, device, event, raw, now, plays=plays)
                outcomes.append("event")
        return outcomes, behind

    def snapshot(self) -> Counter[str]:
        """A consistent copy of the counters."""
        with self._cond:
            return Counter(self.counters)

    def wait_for(self, predicate: Callable[[Counter[str]], bool], timeout: float) -> bool:
        """Block until ``predicate(counters)`` holds (True) or ``timeout`` passes (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.counters), timeout)

    def count(self, outcome: str) -> None:
        """Count one outcome (the receiver counts dead letters and replays here too)."""
        with self._cond:
            self.counters[outcome] += 1
            self._cond.notify_all()


    def _handle(self, topic: str, payload: bytes) -> str:
        try:
            parsed = parse_topic(topic)
        except TopicError as exc:
            raise _Refused("bad_topic", str(exc)) from exc
        if parsed.channel == Channel.STATUS:
            if not payload:
                return "status_cleared"  # a retained status being deleted
            status = self._decode(codec.decode_status, payload)
            self._check_sender(parsed.device_id, status.device_id)
            if self._retrying(lambda s: self._store_status(s, status)) and self._on_behind:
                self._on_behind(status.device_id)
            return "status"
        if parsed.channel == Channel.EVENT:
            event = self._decode(codec.decode_event, payload)
            self._check_sender(parsed.device_id, event.device_id)
            stored, note = self._retrying(lambda s: self._store_event(s, event, payload))
            if note:
                self.count(note)
            if stored and isinstance(event, UpdateReport | CommandAck) and self._on_update:
                self._on_update()
            if stored and isinstance(event, CommandAck) and self._on_ack is not None:
                self._on_ack(event)
            return "event" if stored else "duplicate"
        raise _Refused("unexpected_channel", f"the center does not ingest {parsed.channel}")

    @staticmethod
    def _decode(decoder: Callable[[bytes], T], payload: bytes) -> T:
        try:
            return decoder(payload)
        except UnsupportedVersion as exc:
            raise _Refused("unsupported_version", str(exc)) from exc
        except MalformedMessage as exc:
            raise _Refused("malformed", str(exc)) from exc

    @staticmethod
    def _check_sender(topic_device: str, payload_device: str) -> None:
        if topic_device != payload_device:
            raise _Refused(
                "device_mismatch",
                f"payload says device {payload_device[:64]!r} on the topic of {topic_device!r}",
            )

    def _retrying(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a transaction, retrying a few times when SQLite is busy, or when
        another center process stored the same event at the same instant (the retry then
        finds it stored: a duplicate)."""
        for attempt in range(1, _STORE_ATTEMPTS + 1):
            try:
                with self._sessions.begin() as session:
                    return work(session)
            except (OperationalError, IntegrityError):
                if attempt == _STORE_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def _device(self, session: Session, device_id: str) -> Device:
        device = session.get(Device, device_id)
        if device is None:
            raise _Refused("unknown_device", f"device {device_id!r} is not registered")
        return device

    def _store_status(self, session: Session, status: Status) -> bool:
        """Store a birth or will; True when the device holds an older manifest than ours."""
        device = self._device(session, status.device_id)
        now = self._clock()
        if device.state != DeviceState.ACTIVE:  # e.g. its last birth, still retained
            return False
        if device.online != status.online or device.status_changed_at is None:
            device.status_changed_at = now
            record_status_change(session, device=device, online=status.online, at=now)
        device.online = status.online
        if status.online:
            device.last_seen_at = now
        if status.agent_version:
            device.agent_version = status.agent_version[:100]
        if status.manifest_version is not None:
            device.manifest_version_acked = status.manifest_version
        if not status.online:
            return False
        held = status.manifest_version or 0  # none at all: a new or wiped store
        return bool(devices_behind(session, reported={device.id: held}, now=now,
                                   settle=self._settle))

    def _store_event(self, session: Session, event: DeviceEvent, raw: bytes
                     ) -> tuple[bool, str | None]:
        """Store the event once: (False, None) for a redelivery, else (True, a note to count
        beside 'event', if any)."""
        device = self._device(session, event.device_id)
        if isinstance(event, QuizAttemptSubmitted) and device.kind != DeviceKind.KIOSK:
            raise _Refused("not_a_kiosk", f"device {device.id!r} is a {device.kind}, not a "
                                          "kiosk: its quiz attempt is dropped")
        if session.get(DeviceEventRecord, event.event_id) is not None:
            return False, None  # a redelivery: already stored once
        now = self._clock()
        self._record(session, device, event, raw, now)
        if isinstance(event, CommandAck):
            broadcasts.apply_ack(session, ack=event)
            rollout_events.apply_ack(session, ack=event, now=now)
        elif isinstance(event, UpdateReport):
            rollout_events.apply_update_report(session, event=event, now=now)
        elif isinstance(event, FeedbackSubmitted):
            record_submission(session, event=event, device=device, now=now)
        elif isinstance(event, SurveyAnswered):
            dropped = record_answer(session, event=event, device=device, now=now)
            if dropped is not None:
                log.info("ingest: survey answer %s dropped (%s)", event.event_id, dropped)
                return True, "survey_answer_dropped"
        elif isinstance(event, QuizAttemptSubmitted):
            try:
                recorded = record_kiosk_attempt(session, event=event, device=device, now=now)
            except UnscorableAttempt as exc:
                raise _Refused("unscorable_attempt", str(exc)) from exc
            if recorded.mismatch:
                return True, "kiosk_score_corrected"
        return True, None

    @staticmethod
    def _record(session: Session, device: Device, event: DeviceEvent, raw: bytes,
                now: datetime, *, plays: dict[tuple[str, str], PlayLog] | None = None) -> None:
        """The event's row, the device heard, and what an acknowledgement or a play changes
        (the rest of :meth:`_store_event`'s kinds are applied there)."""
        session.add(DeviceEventRecord(
            event_id=event.event_id, device_id=event.device_id, type=event.type,
            at=event.at, received_at=now, payload=_json_text(raw),
        ))
        device.last_seen_at = now
        if isinstance(event, ManifestAccepted):
            device.manifest_version_acked = max(device.manifest_version_acked or 0, event.version)
        elif isinstance(event, _PLAYS):
            apply_play_event(session, event=event, now=now, rows=plays)
            if not isinstance(event, PlayShown):  # kiosks' text notices are no emergency
                broadcasts.apply_play(session, event=event)


_PLAYS = (PlayStarted, PlayCompleted, PlayInterrupted, PlayFailed, PlayShown)
_BATCHED = (ManifestAccepted, *_PLAYS)


def _json_text(raw: bytes) -> str:
    """The payload re-serialised compactly (it was valid JSON to get this far)."""
    return json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
