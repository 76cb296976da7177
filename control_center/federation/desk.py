"""What the links of this center use, built once by the runtime: its identity, the emergency
path (for emergencies from the parent), the fetcher of the parent's media, its time zone and
clock; and the dispatch of a received message to what applies it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from control_center.errors import InvalidInput
from control_center.federation import content_down, figures_up, sending
from control_center.federation.identity import Identity
from control_center.federation.media_down import MediaFetcher
from control_center.federation.messages import FederationMessage, Kind
from control_center.models import FederationPeer
from control_center.services.emergency import EmergencyDesk


@dataclass(frozen=True, slots=True)
class FederationDesk:
    identity: Identity
    emergency: EmergencyDesk
    media: MediaFetcher
    timezone: str
    clock: Callable[[], datetime]

    def apply(self, session: Session, peer: FederationPeer, message: FederationMessage) -> str:
        """Apply one verified message (see ``inbox.Handler``)."""
        if message.kind == Kind.HELLO:
            return "hello"
        if message.kind == Kind.BULLETIN:
            return content_down.take(session, peer=peer, message=message,
                                     identity=self.identity, desk=self.emergency,
                                     media=self.media,
                                     default_tz=self.timezone, now=self.clock())
        if message.kind == Kind.BULLETIN_STATE:
            return sending.take_state(session, peer=peer, message=message)
        if message.kind == Kind.FIGURES:
            return figures_up.take(session, peer=peer, message=message)
        raise InvalidInput(f"loại thông điệp '{message.kind.value}' chưa được hỗ trợ / message "
                           f"kind '{message.kind.value}' is not taken by this center's version")
