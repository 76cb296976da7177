"""The running center: database, signer, MQTT bridge, ingestion, manifest sync, refresher."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, inspect, select

from control_center.broker.accounts import BrokerAccounts
from control_center.broker.dynsec import DynsecAccounts
from control_center.broker.registry import MAIN
from control_center.broker.routing import client_id_on
from control_center.cluster.elector import Elector, Role
from control_center.cluster.locks import Section, locks_for
from control_center.cluster.seats import (
    DrainOptions,
    SeatDrain,
    claim_seat,
    seat_client_id,
    shared,
)
from control_center.config import Settings
from control_center.db import create_db_engine, session_factory, upgrade_database
from control_center.errors import ConfigError
from control_center.federation.desk import FederationDesk
from control_center.federation.figures_up import FiguresReporter
from control_center.federation.identity import load_identity
from control_center.federation.media_down import MediaFetcher
from control_center.live.desk import LiveDesk
from control_center.live.mic_input import MicrophoneInputs
from control_center.models import Device, DeviceEventRecord
from control_center.security import load_signing_key
from control_center.services import signing_keys
from control_center.services.device_lifecycle import PendingPasswords, credential_acknowledged
from control_center.services.emergency import EmergencyDesk
from control_center.services.media_intake import MediaIntake
from control_center.services.signing_keys import KeyRing
from control_center.telemetry.service import Telemetry
from control_center.workers.broker_sync import BrokerSync
from control_center.workers.brokers import build_brokers
from control_center.workers.bulletin_voices import BulletinVoices
from control_center.workers.dead_letters import SPOOL_NAME, DeadLetters
from control_center.workers.federation_link import FederationLink
from control_center.workers.feedback_overdue import OverdueEscalator
from control_center.workers.ingest import Ingestor
from control_center.workers.live_relays import RelayRunner
from control_center.workers.manifest_sync import ManifestSync
from control_center.workers.media_worker import MediaWorker
from control_center.workers.publisher import ManifestPublisher
from control_center.workers.receiver import Receiver
from control_center.workers.refresher import Refresher
from control_center.workers.republish import Republisher
from control_center.workers.rollouts import RolloutWorker
from control_center.workers.speech_jobs import SpeechJobs
from media import config_from_env
from protocol import codec
from protocol.base import utc_now
from protocol.events import CommandAck, CommandOutcome
from protocol.signing import Signer, public_key_b64
from protocol.topics import Channel, fleet_subscription

log = logging.getLogger(__name__)
SEAT_WAIT_S = 60.0  # how long a starting process waits for a free ingest seat
FLEET_CHANNELS = (Channel.EVENT, Channel.STATUS, Channel.TELEMETRY)


def registered_devices(engine: Engine) -> int:
    """How many devices the database knows (0 for a database not created yet)."""
    if not inspect(engine).has_table(Device.__tablename__):
        return 0
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Device)) or 0


def load_signer(settings: Settings, engine: Engine) -> Signer:
    """The center's Ed25519 signer (with its key ring: ``load_keyring``)."""
    return load_keyring(settings, engine).signer


def load_keyring(settings: Settings, engine: Engine) -> KeyRing:
    """The center's Ed25519 keys: the current one as a rotation left it, else the configured
    one. A fresh center creates its key (0600); a center with devices and no key file refuses
    to start (``ConfigError`` saying how to recover)."""
    if (ring := signing_keys.load_ring(engine)) is not None:
        return ring
    key = load_signing_key(settings.signing_key_path, devices=registered_devices(engine),
                           create=settings.new_signing_key)
    return KeyRing(Signer(key))


def ingest_engine(engine: Engine, settings: Settings) -> Engine:
    """The MQTT ingest's engine: on a SQLite file, its own, whose statements wait only
    ``ingest_busy_timeout_ms`` for the write lock (the ingest retries, then keeps a dead
    letter, instead of holding the broker's messages for a minute); else ``engine``."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine
    return create_db_engine(settings.database_url,
                            busy_timeout_ms=settings.ingest_busy_timeout_ms)


class Center:
    """Owns every long-lived resource; ``start`` and ``stop`` bracket the app's lifespan."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = create_db_engine(settings.database_url)
        self.sessions = session_factory(self.engine)
        self.read_sessions = session_factory(self.engine, read_only=True)
        try:
            self.keyring = load_keyring(settings, self.engine)
        except ConfigError:
            self.engine.dispose()
            raise
        self.signer = self.keyring.signer
        self.ingest_engine = ingest_engine(self.engine, settings)
        self.ingest_sessions = session_factory(self.ingest_engine)
        self.locks = locks_for(self.engine)
        self.seat = self._claim_seat()
        client_id = settings.mqtt_client_id if self.seat is None else seat_client_id(
            settings.mqtt_client_id, self.seat)
        local_dir = settings.data_dir if self.seat is None else (
            settings.data_dir / f"seat-{self.seat}")
        self.republisher = Republisher(interval_s=settings.republish_interval_s,
                                       wake=lambda: self.refresher.nudge(),
                                       devices_on=self._devices_on)
        self.pending_passwords = PendingPasswords()
        self._acks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="acks")
        self.ingestor = Ingestor(sessions=self.ingest_sessions, clock=clock,
                                 republish_settle_s=settings.republish_settle_s,
                                 on_behind=self.republisher.device, on_ack=self._on_ack,
                                 on_update=lambda: self.rollouts.nudge())
        self.telemetry = Telemetry(settings=dataclasses.replace(settings, data_dir=local_dir),
                                   sessions=self.sessions, clock=clock,
                                   lookup_sessions=self.ingest_sessions,
                                   on_manifest_behind=self.republisher.device,
                                   leading=lambda: self.elector.leads("monitor"))
        self.receiver = Receiver(
            ingest=self._ingest, telemetry=self.telemetry.handle_report,
            letters=DeadLetters(sessions=self.ingest_sessions,
                                spool_path=local_dir / SPOOL_NAME, clock=clock),
            count=self.ingestor.count, replay_s=settings.dead_letter_replay_s,
            ingest_many=self._ingest_many)
        self.brokers = build_brokers(settings, sessions=self.sessions,
                                     read_sessions=self.read_sessions, client_id=client_id,
                                     subscriptions=self._subscriptions(),
                                     on_message=self.receiver.handle,
                                     on_messages=self.receiver.handle_many,
                                     on_connected=self._on_connected)
        self.bridge = self.brokers.router
        self.accounts: BrokerAccounts = self.brokers.accounts
        self.dynsec: DynsecAccounts | None = self.brokers.dynsec.get(MAIN)
        self.broker_sync: BrokerSync | None = self.brokers.syncs.get(MAIN)
        self.manifests = ManifestSync(
            sessions=self.sessions, signer=self.signer, bridge=self.bridge,
            public_base_url=settings.public_base_url,
            horizon=timedelta(hours=settings.horizon_hours),
            publish_timeout_s=settings.publish_timeout_s, clock=clock,
            trusted_keys=lambda: self.keyring.manifest_keys,
            lock=Section(self.locks, "manifests"),
        )
        self.publisher = ManifestPublisher(self.manifests)
        self.publisher.install(self.sessions)
        if self.ingest_sessions is not self.sessions:
            self.publisher.install(self.ingest_sessions)
        self.refresher = Refresher(sync=self.manifests, interval_s=settings.refresh_seconds,
                                   republisher=self.republisher,
                                   leading=lambda: self.elector.leads("manifests"))
        self.media = MediaWorker(sessions=self.sessions, media_dir=settings.media_dir,
                                 config=config_from_env(), clock=clock)
        self.intake = MediaIntake(media_dir=settings.media_dir,
                                  max_upload_bytes=settings.max_upload_bytes, jobs=self.media)
        self.speech = SpeechJobs(intake=self.intake, sessions=self.sessions, clock=clock)
        self.voices = BulletinVoices(intake=self.intake, sessions=self.sessions, clock=clock)
        self.voices.install(self.sessions)
        self.rollouts = RolloutWorker(sessions=self.sessions, signer=self.signer,
                                      bridge=self.bridge, public_base_url=settings.public_base_url,
                                      clock=clock, publish_timeout_s=settings.publish_timeout_s)
        self.emergency = EmergencyDesk(signer=self.signer, bridge=self.bridge,
                                       intake=self.intake,
                                       public_base_url=settings.public_base_url,
                                       timezone=settings.timezone,
                                       publish_timeout_s=settings.publish_timeout_s)
        self.live = LiveDesk(root=settings.data_dir / "live", signer=self.signer,
                             sessions=self.sessions, clock=clock)
        self.relays = RelayRunner(desk=self.live, sessions=self.sessions, clock=clock)
        self.microphones = MicrophoneInputs(self.live)
        self.overdue = OverdueEscalator(sessions=self.sessions, clock=clock)
        identity = load_identity(settings.identity_key_path
                                 or settings.data_dir / "center_identity_ed25519.pem",
                                 settings.center_id)
        self.federation = FederationDesk(identity=identity, emergency=self.emergency,
                                         media=MediaFetcher(intake=self.intake,
                                                            sessions=self.sessions, clock=clock),
                                         timezone=settings.timezone, clock=clock)
        self.federation_link = FederationLink(
            sessions=self.sessions, identity=identity, clock=clock,
            figures=FiguresReporter(identity=identity, reader=self.telemetry.reader,
                                    bucket_s=settings.silence_s, timezone=settings.timezone),
            figures_s=settings.federation_figures_s)
        self.elector = self._elector()

    def _claim_seat(self) -> int | None:
        """This process's ingest seat (None: a lone center with plain subscriptions)."""
        if self.settings.ingest_seats == 1:
            return None
        if not self.locks.shared:
            self.engine.dispose()
            raise ConfigError(
                f"TT_INGEST_SEATS={self.settings.ingest_seats} needs PostgreSQL "
                "(TT_DATABASE_URL): a center of several processes shares one database and "
                "elects through its advisory locks; on SQLite run one process")
        return claim_seat(self.locks, seats=self.settings.ingest_seats, wait_s=SEAT_WAIT_S)

    def _subscriptions(self) -> list[str]:
        filters = [fleet_subscription(c) for c in FLEET_CHANNELS]
        return filters if self.seat is None else shared(filters, self.settings.mqtt_client_id)

    def _elector(self) -> Elector:
        """Singleton roles (run by one process of the center) and the drain of seats whose
        process died (``control_center.cluster``)."""
        roles = [
            Role("manifests", start=self.refresher.kick, stop=lambda: None),
            Role("monitor", start=lambda: None, stop=lambda: None),
            Role("rollouts", start=self.rollouts.start, stop=self.rollouts.stop),
            Role("media-resume", start=self.media.resume, stop=lambda: None),
            Role("live-relays", start=self.relays.start, stop=self.relays.stop),
            Role("feedback-overdue", start=self.overdue.start, stop=self.overdue.stop),
            Role("federation-link", start=self.federation_link.start,
                 stop=self.federation_link.stop),
        ]
        if self.broker_sync is not None:
            roles.append(Role("broker-accounts", start=self.brokers.start_syncs,
                              stop=self.brokers.stop_syncs))
        drain = None
        if self.seat is not None:
            group = self.settings.mqtt_client_id
            filters = tuple(fleet_subscription(c) for c in FLEET_CHANNELS)
            drain = SeatDrain([DrainOptions(
                host=b.host, port=b.port, username=b.username, password=b.password,
                group=group, filters=filters,
                client_suffix=client_id_on(b.name, "")) for b in self.brokers.registry],
                self.receiver.handle)
        return Elector(locks=self.locks, roles=roles, interval_s=self.settings.cluster_check_s,
                       seats=self.settings.ingest_seats, my_seat=self.seat, drain=drain,
                       on_tick=[self._reload_keys, self._rotations_acknowledged])

    def _rotations_acknowledged(self) -> None:
        """Complete the credential rotations this process started whose acknowledgement
        another process of the center stored (the password is only in this one's memory)."""
        if not self.locks.shared or not (waiting := self.pending_passwords.waiting()):
            return
        with self.read_sessions() as session:
            payloads = session.scalars(select(DeviceEventRecord.payload).where(
                DeviceEventRecord.type == "command_ack",
                DeviceEventRecord.device_id.in_(sorted(set(waiting.values())))))
            acks = [codec.decode_event(p.encode()) for p in payloads]
        for ack in acks:
            if isinstance(ack, CommandAck) and ack.command_id in waiting:
                self._credential_ack(ack)

    def _reload_keys(self) -> None:
        """Adopt a signing-key rotation another process of the center made."""
        if not self.locks.shared:
            return
        ring = signing_keys.load_ring(self.engine)
        if ring is None:
            return
        if (ring.signer.key_id != self.signer.key_id
                or ring.manifest_keys != self.keyring.manifest_keys):
            log.info("signing keys changed in the database; now signing with %s",
                     ring.signer.key_id)
            self.keyring.set(ring.manifest_keys, key=ring.signer.current_private_key)

    def start(self) -> None:
        """Migrate the database, then connect to the broker and start refreshing."""
        self.settings.media_dir.mkdir(parents=True, exist_ok=True)
        upgrade_database(self.engine)
        self.media.start(resume=False)  # the elected process resumes (role media-resume)
        self.speech.start()
        self.voices.start()
        self.telemetry.start()
        self.receiver.start()
        self.bridge.start()
        self.brokers.start_accounts()  # connect in the background, like the bridges
        self.refresher.start()
        self.elector.start()
        log.info("control center started (key id %s, media %s)", self.signer.key_id,
                 self.settings.media_dir)

    def stop(self) -> None:
        self._acks.shutdown(wait=True)
        self.elector.stop()  # stops the roles it runs (rollouts, broker accounts, relays)
        self.live.stop_all()
        self.refresher.stop()
        self.brokers.stop_accounts()
        self.bridge.stop()
        self.receiver.stop()
        self.telemetry.stop()
        self.voices.stop()
        self.speech.stop()
        self.federation.media.stop()
        self.media.stop()
        if self.ingest_engine is not self.engine:
            self.ingest_engine.dispose()
        self.locks.close()
        self.engine.dispose()
        log.info("control center stopped")

    def _ingest(self, topic: str, payload: bytes) -> bool:
        """Status and events to the ingestor; a stored event also tells telemetry the device
        was heard (health reports go to telemetry directly, see ``workers.receiver``)."""
        ok = self.ingestor.handle(topic, payload)
        if ok and topic.endswith("/" + Channel.EVENT.value):
            self.telemetry.observe_event(topic, payload)
        return ok

    def _ingest_many(self, messages: list[tuple[str, bytes]]) -> None:
        """:meth:`_ingest` for a run of messages (``Ingestor.handle_many``)."""
        self.ingestor.handle_many(messages)
        for topic, payload in messages:
            if topic.endswith("/" + Channel.EVENT.value):
                self.telemetry.observe_event(topic, payload)

    @property
    def public_key_b64(self) -> str:
        """The key signing now (base64 of the raw 32 bytes)."""
        return public_key_b64(self.signer.public_key)

    def trusted_public_keys(self) -> list[str]:
        """The center keys a device must trust now (base64), the signing one first."""
        return self.keyring.device_keys()

    def _on_ack(self, ack: CommandAck) -> None:
        """Runs in the MQTT loop thread: hand a rotation's (or a broker move's) acknowledgement
        to a worker, which waits for the broker to take the new password."""
        self._acks.submit(self._credential_ack, ack)
        self._acks.submit(self.brokers.move_acknowledged, ack, self.sessions, self.clock())

    def _credential_ack(self, ack: CommandAck) -> None:
        try:
            with self.sessions() as session:
                credential_acknowledged(
                    session, self.accounts, self.pending_passwords, command_id=ack.command_id,
                    accepted=ack.outcome == CommandOutcome.ACCEPTED, now=self.clock())
        except Exception:  # the broker or database failed: the device keeps its old password
            log.exception("credential rotation of %s not completed", ack.device_id)

    def _devices_on(self, broker: str) -> list[str]:
        with self.read_sessions() as session:
            return list(session.scalars(select(Device.id).where(Device.broker == broker)))

    def _on_connected(self, broker: str, session_present: bool) -> None:
        # Runs in the MQTT loop thread: never publish from here, hand over to the refresher.
        if not session_present:  # the broker holds nothing of ours: maybe no manifests
            self.republisher.everything(broker if len(self.brokers.registry) > 1 else None)
        if self.seat is None or self.elector.leads("manifests"):
            self.refresher.kick()  # a full rebuild: what was built while we were away
        else:
            self.refresher.nudge()  # the elected process rebuilds; this one publishes
