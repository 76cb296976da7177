"""The officers' forum API. Every call acts as the signed-in user's own officer profile (the
system token is no officer: 403); forums outside the officer's visible units answer 404.
Creating a forum category needs only the API token."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.api.deps import ActorDep, NowDep, SessionDep
from control_center.api.routes.training import OfficerDep
from control_center.schemas.common import ItemList
from control_center.training import forum
from control_center.training.schemas import (
    CategoryCreate,
    CategoryOut,
    MentionOut,
    ModerateIn,
    PostOut,
    ReplyIn,
    ThreadCreate,
    ThreadDetail,
    ThreadOut,
)

router = APIRouter(prefix="/forum", tags=["forum"])


@router.post("/categories", response_model=CategoryOut, status_code=201)
def create_category(data: CategoryCreate, session: SessionDep, actor: ActorDep,
                    now: NowDep) -> CategoryOut:
    row = forum.create_category(session, unit_id=data.unit_id, name=data.name,
                                description=data.description, actor=actor, now=now)
    return CategoryOut(id=row.id, unit_id=row.unit_id, unit_name="", name=row.name,
                       description=row.description, threads=0, unread=0)


@router.get("/categories", response_model=ItemList[CategoryOut])
def list_categories(session: SessionDep, officer: OfficerDep) -> ItemList[CategoryOut]:
    views = forum.list_categories(session, officer=officer)
    return ItemList.of([CategoryOut(
        id=v.category.id, unit_id=v.category.unit_id, unit_name=v.unit_name,
        name=v.category.name, description=v.category.description, threads=v.threads,
        unread=v.unread) for v in views])


@router.get("/categories/{category_id}/threads", response_model=ItemList[ThreadOut])
def list_threads(category_id: int, session: SessionDep, officer: OfficerDep
                 ) -> ItemList[ThreadOut]:
    category = forum.get_category(session, officer=officer, category_id=category_id)
    views = forum.list_threads(session, officer=officer, category=category)
    return ItemList.of([ThreadOut.model_validate(v.thread).model_copy(
        update={"unread": v.unread, "replies": v.replies}) for v in views])


@router.post("/categories/{category_id}/threads", response_model=ThreadOut, status_code=201)
def create_thread(category_id: int, data: ThreadCreate, session: SessionDep,
                  officer: OfficerDep, now: NowDep) -> ThreadOut:
    thread = forum.create_thread(session, officer=officer, category_id=category_id,
                                 title=data.title, body=data.body, now=now)
    return ThreadOut.model_validate(thread)


@router.get("/threads/{thread_id}", response_model=ThreadDetail)
def read_thread(thread_id: int, session: SessionDep, officer: OfficerDep) -> ThreadDetail:
    """The thread with its posts; it is marked read for the officer."""
    thread, posts, _moderator = forum.read_thread(session, officer=officer, thread_id=thread_id)
    mentions = forum.mentioned_units(session, post_ids=[p.id for p, _ in posts])
    return ThreadDetail(**ThreadOut.model_validate(thread).model_dump(), posts=[
        PostOut(id=p.id, thread_id=p.thread_id, author_id=p.author_id, author_name=a.name,
                body=p.body, hidden=p.hidden, created_at=p.created_at,
                mentions=mentions.get(p.id, [])) for p, a in posts])


@router.get("/mentions", response_model=ItemList[MentionOut])
def my_mentions(session: SessionDep, officer: OfficerDep) -> ItemList[MentionOut]:
    """Visible posts that name the officer's unit as ``@<unit code>``, newest first."""
    rows = forum.mentions_of(session, officer=officer)
    return ItemList.of([MentionOut(
        id=p.id, thread_id=p.thread_id, author_id=p.author_id, author_name=a.name, body=p.body,
        hidden=p.hidden, created_at=p.created_at, mentions=[officer.unit_id],
        thread_title=t.title) for p, t, a in rows])


@router.post("/threads/{thread_id}/posts", response_model=PostOut, status_code=201)
def reply(thread_id: int, data: ReplyIn, session: SessionDep, officer: OfficerDep,
          now: NowDep) -> PostOut:
    post = forum.reply(session, officer=officer, thread_id=thread_id, body=data.body, now=now)
    return PostOut(id=post.id, thread_id=post.thread_id, author_id=post.author_id,
                   author_name=officer.name, body=post.body, hidden=post.hidden,
                   created_at=post.created_at)


@router.post("/threads/{thread_id}/moderate", response_model=ThreadOut)
def moderate(thread_id: int, data: ModerateIn, session: SessionDep, officer: OfficerDep,
             now: NowDep) -> ThreadOut:
    thread = forum.moderate_thread(session, officer=officer, thread_id=thread_id,
                                   action=data.action, now=now)
    return ThreadOut.model_validate(thread)


@router.post("/posts/{post_id}/hide", response_model=PostOut)
def hide_post(post_id: int, session: SessionDep, officer: OfficerDep, now: NowDep,
              hidden: bool = True) -> PostOut:
    post = forum.hide_post(session, officer=officer, post_id=post_id, hidden=hidden, now=now)
    return PostOut(id=post.id, thread_id=post.thread_id, author_id=post.author_id,
                   author_name="", body=post.body, hidden=post.hidden,
                   created_at=post.created_at)
