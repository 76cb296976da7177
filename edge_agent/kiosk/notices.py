"""Which text notices a kiosk's home screen shows now.

A notice shows from its occurrence's instant until ``TextContent.ends_at`` (an item from a
center without it: until the player's lateness limit), never before it is due; when several
occurrences of one bulletin are on screen at once, only the latest is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from protocol.manifest import PlayItem, TextContent


def notice_end(item: PlayItem, *, lateness: timedelta) -> datetime:
    if isinstance(item.content, TextContent) and item.content.ends_at is not None:
        return item.content.ends_at
    return item.start_at + lateness


def current_notices(items: Iterable[PlayItem], *, now: datetime,
                    lateness: timedelta) -> list[PlayItem]:
    """The text items on screen at ``now``, one per bulletin, newest first."""
    latest: dict[int, PlayItem] = {}
    for item in items:
        if not isinstance(item.content, TextContent):
            continue
        if item.start_at <= now < notice_end(item, lateness=lateness):
            seen = latest.get(item.bulletin_id)
            if seen is None or item.start_at > seen.start_at:
                latest[item.bulletin_id] = item
    return sorted(latest.values(), key=lambda i: (i.start_at, i.item_id), reverse=True)
