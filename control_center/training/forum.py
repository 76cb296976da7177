"""The officers' forum. A category belongs to a unit (the national forum to the root unit); an
officer sees the forums of their own unit, of every unit above it (up to the national one)
and of every unit below it. Another province's forum
does not exist for them (NotFound). Moderators (role ``moderator``) hide, lock and pin in the
forums of their unit's subtree; hidden threads and posts are shown only to them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.targets import ancestor_unit_ids, descendant_unit_ids
from control_center.errors import Conflict, InvalidInput, NotFound, UnknownReference
from control_center.models import (
    AdminUnit,
    ForumCategory,
    ForumMention,
    ForumPost,
    ForumRead,
    ForumThread,
    MediaAsset,
    MediaState,
    Officer,
    OfficerRole,
)

MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?)")
ATTACHMENT = re.compile(r"\bmedia:([0-9a-f]{64})\b")
TOKENS = re.compile(MENTION.pattern + "|" + ATTACHMENT.pattern)
ACTIONS = {"hide": ("hidden", True), "unhide": ("hidden", False), "lock": ("locked", True),
           "unlock": ("locked", False), "pin": ("pinned", True), "unpin": ("pinned", False)}


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a post as shown: text, a mentioned unit, or an attachment of ``media/``."""

    kind: str  # text | unit | media
    text: str
    unit_id: int | None = None
    url: str | None = None
    mime: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadView:
    thread: ForumThread
    unread: bool
    replies: int


@dataclass(frozen=True, slots=True)
class CategoryView:
    category: ForumCategory
    unit_name: str
    threads: int
    unread: int


def visible_units(session: Session, officer: Officer) -> set[int]:
    return (set(ancestor_unit_ids(session, unit_id=officer.unit_id))
            | descendant_unit_ids(session, unit_ids=[officer.unit_id]))


def moderates(session: Session, officer: Officer, category: ForumCategory) -> bool:
    return officer.role == OfficerRole.MODERATOR and category.unit_id in descendant_unit_ids(
        session, unit_ids=[officer.unit_id])


def create_category(session: Session, *, unit_id: int, name: str, description: str,
                    actor: Actor, now: datetime) -> ForumCategory:
    if session.get(AdminUnit, unit_id) is None:
        raise UnknownReference(f"unit {unit_id} does not exist")
    row = ForumCategory(unit_id=unit_id, name=name, description=description, created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="forum_category",
                 object_id=row.id, detail={"unit_id": unit_id, "name": name}, at=now)
    session.commit()
    return row


def get_category(session: Session, *, officer: Officer, category_id: int) -> ForumCategory:
    category = session.get(ForumCategory, category_id)
    if category is None or category.unit_id not in visible_units(session, officer):
        raise NotFound(f"forum {category_id} does not exist or is not visible to you")
    return category


def _thread_views(session: Session, officer: Officer, threads: list[ForumThread],
                  moderator: bool) -> list[ThreadView]:
    ids = [t.id for t in threads]
    reads = dict(session.execute(select(ForumRead.thread_id, ForumRead.last_post_id).where(
        ForumRead.officer_id == officer.id, ForumRead.thread_id.in_(ids))).all())
    counts: dict[int, int] = {}
    posts = select(ForumPost.thread_id).where(ForumPost.thread_id.in_(ids))
    if not moderator:
        posts = posts.where(ForumPost.hidden.is_(False))
    for thread_id in session.scalars(posts):
        counts[thread_id] = counts.get(thread_id, 0) + 1
    return [ThreadView(t, unread=t.last_post_id > reads.get(t.id, 0),
                       replies=max(counts.get(t.id, 1) - 1, 0)) for t in threads]


def list_categories(session: Session, *, officer: Officer) -> list[CategoryView]:
    units = visible_units(session, officer)
    names = dict(session.execute(select(AdminUnit.id, AdminUnit.name).where(
        AdminUnit.id.in_(units))).all())
    out = []
    for c in session.scalars(select(ForumCategory).where(ForumCategory.unit_id.in_(units))
                             .order_by(ForumCategory.unit_id, ForumCategory.name)):
        views = list_threads(session, officer=officer, category=c)
        out.append(CategoryView(c, names.get(c.unit_id, ""), len(views),
                                sum(v.unread for v in views)))
    return out


def list_threads(session: Session, *, officer: Officer, category: ForumCategory
                 ) -> list[ThreadView]:
    moderator = moderates(session, officer, category)
    query = select(ForumThread).where(ForumThread.category_id == category.id)
    if not moderator:
        query = query.where(ForumThread.hidden.is_(False))
    query = query.order_by(ForumThread.pinned.desc(), ForumThread.last_post_at.desc(),
                           ForumThread.id.desc())
    return _thread_views(session, officer, list(session.scalars(query)), moderator)


def _thread(session: Session, officer: Officer, thread_id: int
            ) -> tuple[ForumThread, ForumCategory, bool]:
    thread = session.get(ForumThread, thread_id)
    if thread is None:
        raise NotFound(f"thread {thread_id} does not exist")
    category = get_category(session, officer=officer, category_id=thread.category_id)
    moderator = moderates(session, officer, category)
    if thread.hidden and not moderator:
        raise NotFound(f"thread {thread_id} does not exist")
    return thread, category, moderator


def _attachments(session: Session, body: str) -> None:
    """Every ``media:<sha256>`` must be a ready asset of the media library."""
    for sha in sorted(set(ATTACHMENT.findall(body))):
        asset = session.get(MediaAsset, sha)
        if asset is None or asset.state != MediaState.READY:
            raise InvalidInput(f"unknown media: media:{sha} is not a ready asset of the media "
                               "library: upload it first (POST /api/v1/media)")


def _add_post(session: Session, thread: ForumThread, officer: Officer, body: str,
              now: datetime) -> ForumPost:
    if not body.strip():
        raise InvalidInput("the message is empty")
    _attachments(session, body)
    post = ForumPost(thread_id=thread.id, author_id=officer.id, body=body.strip(),
                     created_at=now)
    session.add(post)
    session.flush()
    codes = set(MENTION.findall(body))
    if codes:
        for unit_id in set(session.scalars(select(AdminUnit.id).where(
                AdminUnit.code.in_(codes)))):
            session.add(ForumMention(post_id=post.id, unit_id=unit_id))
    thread.last_post_id, thread.last_post_at = post.id, now
    _mark_read(session, officer, thread)
    return post


def _mark_read(session: Session, officer: Officer, thread: ForumThread) -> None:
    read = session.get(ForumRead, (officer.id, thread.id))
    if read is None:
        session.add(ForumRead(officer_id=officer.id, thread_id=thread.id,
                              last_post_id=thread.last_post_id))
    else:
        read.last_post_id = max(read.last_post_id, thread.last_post_id)


def create_thread(session: Session, *, officer: Officer, category_id: int, title: str,
                  body: str, now: datetime) -> ForumThread:
    category = get_category(session, officer=officer, category_id=category_id)
    if not title.strip():
        raise InvalidInput("the title is empty")
    thread = ForumThread(category_id=category.id, title=title.strip(), author_id=officer.id,
                         created_at=now, last_post_at=now, last_post_id=0)
    session.add(thread)
    session.flush()
    _add_post(session, thread, officer, body, now)
    session.commit()
    return thread


def read_thread(session: Session, *, officer: Officer, thread_id: int, mark: bool = True
                ) -> tuple[ForumThread, list[tuple[ForumPost, Officer]], bool]:
    """The thread, its posts with their authors, and whether the officer moderates it."""
    thread, _category, moderator = _thread(session, officer, thread_id)
    query = select(ForumPost, Officer).join(Officer, ForumPost.author_id == Officer.id).where(
        ForumPost.thread_id == thread.id).order_by(ForumPost.id)
    if not moderator:
        query = query.where(ForumPost.hidden.is_(False))
    posts = [(post, author) for post, author in session.execute(query)]
    if mark:
        _mark_read(session, officer, thread)
        session.commit()
    return thread, posts, moderator


def reply(session: Session, *, officer: Officer, thread_id: int, body: str, now: datetime
          ) -> ForumPost:
    thread, _category, moderator = _thread(session, officer, thread_id)
    if thread.locked and not moderator:
        raise Conflict(f"thread {thread_id} is locked: no more replies")
    post = _add_post(session, thread, officer, body, now)
    session.commit()
    return post


def moderate_thread(session: Session, *, officer: Officer, thread_id: int, action: str,
                    now: datetime) -> ForumThread:
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}: one of {sorted(ACTIONS)}")
    thread, _category, moderator = _thread(session, officer, thread_id)
    if not moderator:
        raise NotFound(f"thread {thread_id}: only a moderator of this forum can {action} it")
    attr, value = ACTIONS[action]
    setattr(thread, attr, value)
    audit.record(session, actor=Actor(f"officer:{officer.code}"), action=action,
                 object_type="forum_thread", object_id=thread.id, detail={}, at=now)
    session.commit()
    return thread


def hide_post(session: Session, *, officer: Officer, post_id: int, hidden: bool,
              now: datetime) -> ForumPost:
    post = session.get(ForumPost, post_id)
    if post is None:
        raise NotFound(f"post {post_id} does not exist")
    _thread_row, _category, moderator = _thread(session, officer, post.thread_id)
    if not moderator:
        raise NotFound(f"post {post_id}: only a moderator of this forum can hide it")
    post.hidden = hidden
    audit.record(session, actor=Actor(f"officer:{officer.code}"),
                 action="hide" if hidden else "unhide", object_type="forum_post",
                 object_id=post.id, detail={}, at=now)
    session.commit()
    return post


def segments(session: Session, body: str) -> list[Segment]:
    """The post split into text, mentioned units (known codes) and attachments."""
    codes = set(MENTION.findall(body))
    units = {code: (uid, name) for uid, code, name in session.execute(
        select(AdminUnit.id, AdminUnit.code, AdminUnit.name).where(AdminUnit.code.in_(codes)))}
    shas = set(ATTACHMENT.findall(body))
    assets = {a.sha256: a for a in session.scalars(select(MediaAsset).where(
        MediaAsset.sha256.in_(shas)))}
    out: list[Segment] = []
    pos = 0
    for m in TOKENS.finditer(body):
        code, sha = m.group(1), m.group(2)
        if code is not None and code in units:
            segment = Segment("unit", units[code][1], unit_id=units[code][0])
        elif sha is not None and sha in assets:
            d_sha, _size, mime, _ms = assets[sha].delivery_file()
            segment = Segment("media", m.group(0), url=f"/api/v1/media/{d_sha}", mime=mime)
        else:
            continue
        out.append(Segment("text", body[pos:m.start()]))
        out.append(segment)
        pos = m.end()
    out.append(Segment("text", body[pos:]))
    return [x for x in out if x.kind != "text" or x.text]


def mentions_of(session: Session, *, officer: Officer, limit: int = 100
                ) -> list[tuple[ForumPost, ForumThread, Officer]]:
    """Visible posts that mention the officer's unit, newest first."""
    units = visible_units(session, officer)
    query = (select(ForumPost, ForumThread, Officer)
             .join(ForumMention, ForumMention.post_id == ForumPost.id)
             .join(ForumThread, ForumPost.thread_id == ForumThread.id)
             .join(ForumCategory, ForumThread.category_id == ForumCategory.id)
             .join(Officer, ForumPost.author_id == Officer.id)
             .where(ForumMention.unit_id == officer.unit_id,
                    ForumCategory.unit_id.in_(units), ForumPost.hidden.is_(False),
                    ForumThread.hidden.is_(False))
             .order_by(ForumPost.id.desc()).limit(limit))
    return [(p, t, a) for p, t, a in session.execute(query)]


def mentioned_units(session: Session, *, post_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for post_id, unit_id in session.execute(select(ForumMention.post_id, ForumMention.unit_id)
                                            .where(ForumMention.post_id.in_(post_ids))
                                            .order_by(ForumMention.unit_id)):
        out.setdefault(post_id, []).append(unit_id)
    return out
