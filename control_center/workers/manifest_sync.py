"""Keep every device's retained manifest equal to what the database says it should play.

``ManifestSync.sync`` rebuilds manifests, bumps a device's version only when its content
changed, stores the signed body (``published_at`` NULL) and then publishes it retained.
A manifest the broker did not acknowledge stays pending and is published again on the next
sync or reconnect. One lock serialises build+publish so versions reach the broker in order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from paho.mqtt.client import MQTTMessageInfo
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from control_center.broker.routing import Publisher
from control_center.core.targets import schedule_devices
from control_center.feedback.manifest import KioskExtras, kiosk_extras
from control_center.live import relays
from control_center.models import (
    Bulletin,
    BulletinKind,
    Device,
    DeviceState,
    ManifestState,
    MediaAsset,
    Schedule,
)
from control_center.services import manifests as mf
from control_center.services import text_bulletins
from control_center.services.expansion import GRACE
from control_center.services.plays import ManifestPlays, record_manifests
from control_center.training.kiosk import kiosk_bundles
from protocol.manifest import ItemContent, PlayItem
from protocol.signing import Signer
from protocol.topics import Channel, device_topic

log = logging.getLogger(__name__)
CHUNK = 200  # devices rebuilt and committed (one transaction) before their manifests go out
STATE_QUERY_CHUNK = 500  # device ids per IN (...) when loading some devices' manifests


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync did: devices considered, new versions built, broker acknowledgements."""

    devices: int = 0
    changed: tuple[str, ...] = ()
    published: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()


@dataclass(slots=True)
class _Outgoing:
    device_id: str
    version: int
    body: str
    items: tuple[PlayItem, ...] | None = None  # set when newly built: play rows to record
    truncated_after: datetime | None = None


@dataclass(slots=True)
class _Context:
    """Everything loaded once per sync and shared by all devices."""

    now: datetime
    reach: dict[int, set[str]]
    schedules: list[Schedule]
    bulletins: dict[int, Bulletin]
    contents: dict[int, ItemContent | None]
    kiosk_contents: dict[int, ItemContent | None] = field(default_factory=dict)  # text: notices
    instants: dict[int, list[datetime]] = field(default_factory=dict)
    extras: dict[str, KioskExtras] = field(default_factory=dict)  # kiosks: answers, categories
    orders: dict[int, int] = field(default_factory=dict)  # schedule id -> commune's rank
    inactive: set[str] = field(default_factory=set)  # retired or revoked: empty manifests
    trusted_keys: tuple[str, ...] = ()  # during and after a key rotation
    by_device: dict[str, list[Schedule]] = field(default_factory=dict)  # reach, inverted
    placements: dict[int, relays.RelayPlacement] = field(default_factory=dict)  # relays

    def __post_init__(self) -> None:
        for schedule in self.schedules:  # in the schedules' order, as each device lists them
            for device_id in self.reach.get(schedule.id, ()):
                self.by_device.setdefault(device_id, []).append(schedule)


class ManifestSync:
    def __init__(
        self, *, sessions: sessionmaker[Session], signer: Signer, bridge: Publisher,
        public_base_url: str, horizon: timedelta, publish_timeout_s: float,
        clock: Callable[[], datetime],
        trusted_keys: Callable[[], tuple[str, ...]] = tuple,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        """``trusted_keys()``: the center keys manifests list (``services.signing_keys``);
        ``lock``: what serialises build+publish (default a thread lock; in a center of
        several processes a cluster-wide one, ``cluster.locks.Section``)."""
        self._trusted_keys = trusted_keys
        self._sessions = sessions
        self._signer = signer
        self._bridge = bridge
        self._base_url = public_base_url
        self._horizon = horizon
        self._timeout = publish_timeout_s
        self._clock = clock
        self._lock = lock if lock is not None else threading.Lock()

    def sync(self, device_ids: Iterable[str] | None = None) -> SyncReport:
        """Rebuild (all devices when None) and publish what changed or is still pending.

        Devices are rebuilt in chunks, each committed and then published at once, so the
        broker is already fanning out the first manifests while later ones are built.
        """
        wanted = None if device_ids is None else set(device_ids)
        considered, changed = 0, []
        outgoing_all: list[_Outgoing] = []
        sent: list[tuple[str, MQTTMessageInfo | None]] = []
        with self._lock:
            for count, chunk_changed, outgoing in self._rebuild(wanted):
                considered += count
                changed += chunk_changed
                outgoing_all += outgoing
                sent += self._bridge.send_many(self._messages(outgoing), qos=1, retain=True)
            acked = self._bridge.wait_many(sent, timeout=self._timeout)
            published, pending = self._mark_published(outgoing_all, acked)
            # Play-log bookkeeping after the broker has the manifests: it is the slow part
            # of a province-wide change and nothing on the device waits for it.
            self._record_plays(outgoing_all)
        if changed:
            log.info("manifests: %d new version(s), %d pending", len(changed), len(pending))
        return SyncReport(considered, tuple(changed), tuple(published), tuple(pending))

    def publish_pending(self) -> SyncReport:
        """Publish every stored manifest the broker has not acknowledged yet."""
        with self._lock:
            with self._sessions.begin() as session:
                rows = session.execute(
                    select(ManifestState.device_id, ManifestState.version, ManifestState.body)
                    .where(ManifestState.published_at.is_(None))
                ).all()
            outgoing = [_Outgoing(d, v, b) for d, v, b in rows]
            published, pending = self._publish(outgoing)
        return SyncReport(len(outgoing), (), tuple(published), tuple(pending))

    def mark_unpublished(self, device_ids: Iterable[str] | None = None) -> int:
        """Make stored manifests (all when None) pending again, unchanged: the next sync or
        ``publish_pending`` sends them once more. Returns how many were marked."""
        query = (update(ManifestState).where(ManifestState.published_at.is_not(None))
                 .values(published_at=None))
        if device_ids is not None:
            query = query.where(ManifestState.device_id.in_(sorted(device_ids)))
        with self._lock, self._sessions.begin() as session:
            marked: int = session.execute(query).rowcount  # type: ignore[attr-defined]
        return marked

    # -- building ---------------------------------------------------------------------------

    def _rebuild(
        self, wanted: set[str] | None
    ) -> Iterator[tuple[int, list[str], list[_Outgoing]]]:
        """Yield (devices considered, changed ids, outgoing) per committed chunk."""
        with self._sessions() as session:
            with session.begin():
                devices = self._existing(session, wanted)
                if not devices:
                    return
                ctx = self._load(session)
                states = self._states(session, devices, everyone=wanted is None)
            ordered = sorted(devices)
            for start in range(0, len(ordered), CHUNK):
                chunk = ordered[start:start + CHUNK]
                changed: list[str] = []
                outgoing: list[_Outgoing] = []
                new_rows: list[dict[str, object]] = []
                changed_rows: list[dict[str, object]] = []
                with session.begin():  # the chunk's versions in two bulk statements
                    for device_id in chunk:
                        state = states.get(device_id)
                        built = self._rebuild_one(ctx, device_id, state)
                        if built is not None:
                            out, row = built
                            changed.append(device_id)
                            outgoing.append(out)
                            (new_rows if state is None else changed_rows).append(row)
                        elif state is not None and state.published_at is None:
                            outgoing.append(_Outgoing(device_id, state.version, state.body))
                    if new_rows:
                        session.execute(insert(ManifestState), new_rows)
                    if changed_rows:
                        session.execute(update(ManifestState), changed_rows)
                yield len(chunk), changed, outgoing

    @staticmethod
    def _existing(session: Session, wanted: set[str] | None) -> set[str]:
        """The devices to rebuild: all, or those of ``wanted`` that exist (one query per
        ``STATE_QUERY_CHUNK``, never the whole fleet for a few devices)."""
        if wanted is None:
            return set(session.scalars(select(Device.id)))
        ordered = sorted(wanted)
        found: set[str] = set()
        for start in range(0, len(ordered), STATE_QUERY_CHUNK):
            found.update(session.scalars(select(Device.id).where(
                Device.id.in_(ordered[start:start + STATE_QUERY_CHUNK]))))
        return found

    @staticmethod
    def _states(session: Session, devices: set[str], *, everyone: bool
                ) -> dict[str, ManifestState]:
        """The stored manifests of ``devices``: one query for the whole fleet, else by chunks."""
        if everyone:
            return {s.device_id: s for s in session.scalars(select(ManifestState))}
        ordered = sorted(devices)
        states: dict[str, ManifestState] = {}
        for start in range(0, len(ordered), STATE_QUERY_CHUNK):
            states.update((s.device_id, s) for s in session.scalars(select(ManifestState).where(
                ManifestState.device_id.in_(ordered[start:start + STATE_QUERY_CHUNK]))))
        return states

    def _load(self, session: Session) -> _Context:
        now = self._clock()
        schedules = list(session.scalars(
            select(Schedule).where(Schedule.cancelled_at.is_(None))
            .options(selectinload(Schedule.targets))
        ))
        bulletin_ids = {s.bulletin_id for s in schedules}
        bulletins = {
            b.id: b for b in session.scalars(select(Bulletin).where(Bulletin.id.in_(bulletin_ids)))
        }
        streams = relays.relay_streams(session, bulletin_ids=[
            b.id for b in bulletins.values() if b.kind == BulletinKind.RELAY])
        shas = {b.media_sha256 for b in bulletins.values() if b.media_sha256}
        shas |= {b.voice_sha256 for b in bulletins.values() if b.voice_sha256}
        shas |= {s.filler_sha256 for s in streams.values() if s.filler_sha256}
        assets = session.scalars(select(MediaAsset).where(MediaAsset.sha256.in_(shas)))
        media = {m.sha256: m for m in assets}
        contents: dict[int, ItemContent | None] = {
            bid: mf.bulletin_content(b, media=media, public_base_url=self._base_url)
            for bid, b in bulletins.items()
        }
        kiosk_contents = {  # kiosks show a text bulletin's text; the others play its voice
            bid: mf.bulletin_content(b, media=media, public_base_url=self._base_url, kiosk=True)
            for bid, b in bulletins.items() if b.kind == BulletinKind.TEXT}
        for bid, stream in streams.items():
            contents[bid] = relays.live_content_for(
                stream, public_base_url=self._base_url,
                filler=media.get(stream.filler_sha256 or ""))
        reach = schedule_devices(session, schedules=schedules)
        extras = kiosk_extras(session, now=now)
        for device_id, bundles in kiosk_bundles(session, public_base_url=self._base_url).items():
            if device_id in extras:
                extras[device_id] = dataclasses.replace(extras[device_id], bundles=bundles)
        orders = mf.schedule_orders(session, schedule_ids=[s.id for s in schedules])
        inactive = set(session.scalars(select(Device.id).where(
            Device.state != DeviceState.ACTIVE)))
        return _Context(now, reach, schedules, bulletins, contents, kiosk_contents,
                        extras=extras, orders=orders,
                        inactive=inactive, trusted_keys=self._trusted_keys(),
                        placements={b: relays.placement_of(s) for b, s in streams.items()})

    def _rebuild_one(
        self, ctx: _Context, device_id: str, state: ManifestState | None
    ) -> tuple[_Outgoing, dict[str, object]] | None:
        """The device's new manifest and its ``manifest_states`` row, or None when what it
        should hold has not changed."""
        retired = device_id in ctx.inactive
        mine = [] if retired else ctx.by_device.get(device_id, [])
        for schedule in mine:
            if schedule.id not in ctx.instants:
                relay = ctx.placements.get(schedule.bulletin_id)
                bulletin = ctx.bulletins.get(schedule.bulletin_id)
                keep = relay.keep if relay is not None else GRACE
                if bulletin is not None and bulletin.kind == BulletinKind.TEXT:
                    # a text notice stays while a kiosk may still show it
                    keep = max(GRACE, text_bulletins.display_keep(bulletin))
                ctx.instants[schedule.id] = mf.schedule_instants(
                    schedule, now=ctx.now, horizon=self._horizon, keep=keep,
                )
        kiosk = device_id in ctx.extras  # every kiosk has its extras (maybe empty)
        contents = {**ctx.contents, **ctx.kiosk_contents} if kiosk and ctx.kiosk_contents \
            else ctx.contents
        items = mf.build_items(
            schedules=mine, instants=ctx.instants, bulletins=ctx.bulletins, contents=contents,
            orders=ctx.orders,
        )
        if kiosk and ctx.kiosk_contents:  # each text notice's display window
            items = text_bulletins.with_display_ends(items, ctx.bulletins)
        if ctx.placements:  # live items: each occurrence's end and this device's token
            items = relays.for_device(items, placements=ctx.placements, device_id=device_id)
        digest = mf.content_hash(items)
        extras = None if retired else ctx.extras.get(device_id)
        if extras is not None:
            digest = extras.fold(digest)
        if ctx.trusted_keys:
            digest = hashlib.sha256(f"{digest}|{','.join(ctx.trusted_keys)}".encode()).hexdigest()
        if state is not None and state.content_hash == digest:
            return None
        version = 1 if state is None else state.version + 1
        body, kept = mf.seal_manifest(
            self._signer, device_id=device_id, version=version, issued_at=ctx.now, items=items,
            answers=extras.answers if extras else (),
            categories=extras.categories if extras else (),
            bundles=extras.bundles if extras else (), trusted_keys=ctx.trusted_keys,
            surveys=extras.surveys if extras else (),
        )
        text = body.decode()
        row: dict[str, object] = {
            "device_id": device_id, "version": version, "content_hash": digest, "body": text,
            "item_count": len(kept), "built_at": ctx.now, "published_at": None}
        truncated_after = kept[-1].start_at if len(kept) < len(items) and kept else None
        return _Outgoing(device_id, version, text, tuple(kept), truncated_after), row

    def _record_plays(self, outgoing: list[_Outgoing]) -> None:
        built = [o for o in outgoing if o.items is not None]
        if not built:
            return
        now = self._clock()
        with self._sessions.begin() as session:
            record_manifests(session, manifests=[
                ManifestPlays(o.device_id, o.items or (), o.truncated_after) for o in built
            ], cutoff=now - GRACE, now=now)

    # -- publishing -------------------------------------------------------------------------

    @staticmethod
    def _messages(outgoing: list[_Outgoing]) -> list[tuple[str, bytes]]:
        return [(device_topic(o.device_id, Channel.MANIFEST), o.body.encode()) for o in outgoing]

    def _publish(self, outgoing: list[_Outgoing]) -> tuple[list[str], list[str]]:
        if not outgoing:
            return [], []
        acked = self._bridge.publish_many(
            self._messages(outgoing), qos=1, retain=True, timeout=self._timeout
        )
        return self._mark_published(outgoing, acked)

    def _mark_published(
        self, outgoing: list[_Outgoing], acked: list[bool]
    ) -> tuple[list[str], list[str]]:
        published = [o for o, ok in zip(outgoing, acked, strict=True) if ok]
        pending = [o.device_id for o, ok in zip(outgoing, acked, strict=True) if not ok]
        if published:
            now = self._clock()
            with self._sessions.begin() as session:
                session.execute(
                    update(ManifestState),
                    [{"device_id": o.device_id, "published_at": now} for o in published],
                )
        if pending:
            log.warning("manifests: %d not acknowledged by the broker; will retry", len(pending))
        return [o.device_id for o in published], pending
