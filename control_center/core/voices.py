"""The unit of work's record of which text bulletins need their voice made.

A service that makes a text bulletin broadcastable, or changes its text while it is, calls
``voice_wanted`` in the same transaction; once that transaction commits, the voice worker
(``workers.bulletin_voices``) speaks the text in the background. A rollback asks for nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

_PENDING = "tt.voices_wanted"


def voice_wanted(session: Session, bulletin_id: int) -> None:
    """Note that this bulletin's voice must be made when ``session`` commits."""
    pending: set[int] = session.info.setdefault(_PENDING, set())
    pending.add(bulletin_id)


def take_wanted(session: Session) -> set[int]:
    """The bulletins noted so far, forgetting them (called once per commit or rollback)."""
    pending: set[int] = session.info.pop(_PENDING, set())
    return pending
