"""Text items in the player: a kiosk shows them (reported ``shown``), a loudspeaker cannot.

A kiosk's web screen shows each text notice from its instant until ``TextContent.ends_at``
(``edge_agent.kiosk.server``); the player only reports, once per occurrence, the instant it
first appeared. Loudspeakers get the bulletin's voice as audio from the center; a text item
reaching one (an older center) fails with a reason saying so.
"""

from __future__ import annotations

from datetime import datetime

from edge_agent.play_outcome import OutcomeKind, PlayOutcome
from protocol.live import LiveContent
from protocol.manifest import PlayItem, TextContent

SPEAKER_TEXT = ("a text item reached a loudspeaker, which has no text-to-speech: the center "
                "sends loudspeakers the bulletin's voice (update the center)")


def window_end(item: PlayItem, default: datetime) -> datetime:
    """Until when a due item may still start: a live window's or a notice's end, else
    ``default`` (the lateness limit)."""
    if isinstance(item.content, LiveContent):
        return item.content.ends_at
    if isinstance(item.content, TextContent) and item.content.ends_at is not None:
        return item.content.ends_at
    return default


def text_outcome(item: PlayItem, *, now: datetime, shows_text: bool) -> PlayOutcome:
    """What becomes of a due text item: shown at ``now`` on a kiosk, failed elsewhere."""
    if shows_text:
        return PlayOutcome(item, OutcomeKind.SHOWN, started_at=now)
    return PlayOutcome(item, OutcomeKind.FAILED, reason=SPEAKER_TEXT)
