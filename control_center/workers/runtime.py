"""The running center: database, signer, MQTT bridge, ingestion, manifest sync, refresher."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, inspect, select

from control_center.broker.accounts import BrokerAccounts, UnmanagedAccounts
from control_center.broker.dynsec import DynsecAccounts, DynsecOptions
from control_center.config import Settings
from control_center.db import create_db_engine, session_factory, upgrade_database
from control_center.errors import ConfigError
from control_center.models import Device
from control_center.mqtt_bridge import MqttBridge, MqttOptions
from control_center.security import load_signing_key
from control_center.services import signing_keys
from control_center.services.device_lifecycle import PendingPasswords, credential_acknowledged
from control_center.services.emergency import EmergencyDesk
from control_center.services.media_intake import MediaIntake
from control_center.services.signing_keys import KeyRing
from control_center.telemetry.service import Telemetry
from control_center.workers.broker_sync import BrokerSync
from control_center.workers.dead_letters import SPOOL_NAME, DeadLetters
from control_center.workers.ingest import Ingestor
from control_center.workers.manifest_sync import ManifestSync
from control_center.workers.media_worker import MediaWorker
from control_center.workers.publisher import ManifestPublisher
from control_center.workers.receiver import Receiver
from control_center.workers.refresher import Refresher
from control_center.workers.republish import Republisher
from control_center.workers.rollouts import RolloutWorker
from control_center.workers.speech_jobs import SpeechJobs
from media import config_from_env
from protocol.base import utc_now
from protocol.events import CommandAck, CommandOutcome
from protocol.signing import Signer, public_key_b64
from protocol.topics import Channel, fleet_subscription

log = logging.getLogger(__name__)


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
        self.republisher = Republisher(interval_s=settings.republish_interval_s,
                                       wake=lambda: self.refresher.nudge())
        self.accounts: BrokerAccounts = UnmanagedAccounts()
        self.dynsec: DynsecAccounts | None = None
        self.broker_sync: BrokerSync | None = None
        if settings.broker_accounts == "dynsec":
            self.accounts = self.dynsec = DynsecAccounts(
                DynsecOptions(host=settings.mqtt_host, port=settings.mqtt_port,
                              username=settings.mqtt_username,
                              password=settings.mqtt_password,
                              client_id=f"{settings.mqtt_client_id}-accounts",
                              timeout_s=settings.broker_account_timeout_s),
                on_connected=self._accounts_connected)
            self.broker_sync = BrokerSync(accounts=self.dynsec, sessions=self.sessions,
                                          interval_s=settings.broker_sync_s,
                                          center_username=settings.mqtt_username)
        self.pending_passwords = PendingPasswords()
        self._acks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="acks")
        self.ingestor = Ingestor(sessions=self.ingest_sessions, clock=clock,
                                 republish_settle_s=settings.republish_settle_s,
                                 on_behind=self.republisher.device, on_ack=self._on_ack,
                                 on_update=lambda: self.rollouts.nudge())
        self.telemetry = Telemetry(settings=settings, sessions=self.sessions, clock=clock,
                                   lookup_sessions=self.ingest_sessions,
                                   on_manifest_behind=self.republisher.device)
        self.receiver = Receiver(
            ingest=self._ingest, telemetry=self.telemetry.handle_report,
            letters=DeadLetters(sessions=self.ingest_sessions,
                                spool_path=settings.data_dir / SPOOL_NAME, clock=clock),
            count=self.ingestor.count, replay_s=settings.dead_letter_replay_s)
        self.bridge = MqttBridge(
            options=MqttOptions(
                host=settings.mqtt_host, port=settings.mqtt_port,
                username=settings.mqtt_username, password=settings.mqtt_password,
                client_id=settings.mqtt_client_id,
                session_expiry_s=settings.mqtt_session_expiry_s,
            ),
            subscriptions=[fleet_subscription(Channel.EVENT), fleet_subscription(Channel.STATUS),
                           fleet_subscription(Channel.TELEMETRY)],
            on_message=self.receiver.handle,
            on_connected=self._on_connected,
        )
        self.manifests = ManifestSync(
            sessions=self.sessions, signer=self.signer, bridge=self.bridge,
            public_base_url=settings.public_base_url,
            horizon=timedelta(hours=settings.horizon_hours),
            publish_timeout_s=settings.publish_timeout_s, clock=clock,
            trusted_keys=lambda: self.keyring.manifest_keys,
        )
        self.publisher = ManifestPublisher(self.manifests)
        self.publisher.install(self.sessions)
        if self.ingest_sessions is not self.sessions:
            self.publisher.install(self.ingest_sessions)
        self.refresher = Refresher(sync=self.manifests, interval_s=settings.refresh_seconds,
                                   republisher=self.republisher)
        self.media = MediaWorker(sessions=self.sessions, media_dir=settings.media_dir,
                                 config=config_from_env(), clock=clock)
        self.intake = MediaIntake(media_dir=settings.media_dir,
                                  max_upload_bytes=settings.max_upload_bytes, jobs=self.media)
        self.speech = SpeechJobs(intake=self.intake, sessions=self.sessions, clock=clock)
        self.rollouts = RolloutWorker(sessions=self.sessions, signer=self.signer,
                                      bridge=self.bridge, public_base_url=settings.public_base_url,
                                      clock=clock, publish_timeout_s=settings.publish_timeout_s)
        self.emergency = EmergencyDesk(signer=self.signer, bridge=self.bridge,
                                       intake=self.intake,
                                       public_base_url=settings.public_base_url,
                                       timezone=settings.timezone,
                                       publish_timeout_s=settings.publish_timeout_s)

    def start(self) -> None:
        """Migrate the database, then connect to the broker and start refreshing."""
        self.settings.media_dir.mkdir(parents=True, exist_ok=True)
        upgrade_database(self.engine)
        self.media.start()
        self.speech.start()
        self.telemetry.start()
        self.receiver.start()
        self.bridge.start()
        if self.dynsec is not None and self.broker_sync is not None:
            self.broker_sync.start()
            self.dynsec.start()  # connects in the background, like the bridge
        self.refresher.start()
        self.rollouts.start()
        log.info("control center started (key id %s, media %s)", self.signer.key_id,
                 self.settings.media_dir)

    def stop(self) -> None:
        self._acks.shutdown(wait=True)
        self.rollouts.stop()
        self.refresher.stop()
        if self.dynsec is not None and self.broker_sync is not None:
            self.broker_sync.stop()
            self.dynsec.stop()
        self.bridge.stop()
        self.receiver.stop()
        self.telemetry.stop()
        self.speech.stop()
        self.media.stop()
        if self.ingest_engine is not self.engine:
            self.ingest_engine.dispose()
        self.engine.dispose()
        log.info("control center stopped")

    def _ingest(self, topic: str, payload: bytes) -> bool:
        """Status and events to the ingestor; a stored event also tells telemetry the device
        was heard (health reports go to telemetry directly, see ``workers.receiver``)."""
        ok = self.ingestor.handle(topic, payload)
        if ok and topic.endswith("/" + Channel.EVENT.value):
            self.telemetry.observe_event(topic, payload)
        return ok

    @property
    def public_key_b64(self) -> str:
        """The key signing now (base64 of the raw 32 bytes)."""
        return public_key_b64(self.signer.public_key)

    def trusted_public_keys(self) -> list[str]:
        """The center keys a device must trust now (base64), the signing one first."""
        return self.keyring.device_keys()

    def _on_ack(self, ack: CommandAck) -> None:
        """Runs in the MQTT loop thread: hand a rotation's acknowledgement to a worker, which
        waits for the broker to take the new password."""
        self._acks.submit(self._credential_ack, ack)

    def _credential_ack(self, ack: CommandAck) -> None:
        try:
            with self.sessions() as session:
                credential_acknowledged(
                    session, self.accounts, self.pending_passwords, command_id=ack.command_id,
                    accepted=ack.outcome == CommandOutcome.ACCEPTED, now=self.clock())
        except Exception:  # the broker or database failed: the device keeps its old password
            log.exception("credential rotation of %s not completed", ack.device_id)

    def _accounts_connected(self) -> None:
        # Runs in the accounts client's MQTT loop thread: only wake the reconciler.
        if self.broker_sync is not None:
            self.broker_sync.nudge()

    def _on_connected(self, session_present: bool) -> None:
        # Runs in the MQTT loop thread: never publish from here, hand over to the refresher.
        if not session_present:  # the broker holds nothing of ours: maybe no manifests
            self.republisher.everything()
        self.refresher.kick()
