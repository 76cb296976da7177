"""Forum pages: the forums an officer can see (with unread counts), a forum's threads (pinned
first, unread marked), a thread with replies, and the moderator's buttons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from control_center.api.deps import CenterDep
from control_center.training import forum
from control_center.web.shell import FORM_CSRF, ViewerDep, render
from control_center.web.training.common import PREFIX, OfficerDep

router = APIRouter(prefix=f"{PREFIX}/forum", include_in_schema=False)


@router.get("")
def forums(center: CenterDep, me: OfficerDep) -> Response:
    with center.read_sessions() as session:
        views = forum.list_categories(session, officer=me)
        mentions = forum.mentions_of(session, officer=me, limit=20)
        return render(center, "training_forums.html", me=me, views=views, mentions=mentions)


@router.get("/{category_id}")
def category_page(center: CenterDep, viewer: ViewerDep, me: OfficerDep,
                  category_id: int) -> Response:
    with center.read_sessions() as session:
        category = forum.get_category(session, officer=me, category_id=category_id)
        views = forum.list_threads(session, officer=me, category=category)
        return render(viewer, "training_forum.html", me=me, category=category, views=views)


@router.post("/{category_id}/threads", dependencies=[FORM_CSRF])
def new_thread(center: CenterDep, me: OfficerDep, category_id: int,
               title: Annotated[str, Form()], body: Annotated[str, Form()]) -> Response:
    with center.sessions() as session:
        thread = forum.create_thread(session, officer=me, category_id=category_id, title=title,
                                     body=body, now=center.clock())
    return RedirectResponse(f"{PREFIX}/forum/threads/{thread.id}", status_code=303)


@router.get("/threads/{thread_id}")
def thread_page(center: CenterDep, viewer: ViewerDep, me: OfficerDep,
                thread_id: int) -> Response:
    with center.sessions() as session:
        thread, posts, moderator = forum.read_thread(session, officer=me, thread_id=thread_id)
        shown = {p.id: forum.segments(session, p.body) for p, _ in posts}
        return render(viewer, "training_thread.html", me=me, thread=thread, posts=posts,
                      moderator=moderator, shown=shown)


@router.post("/threads/{thread_id}/reply", dependencies=[FORM_CSRF])
def reply(center: CenterDep, me: OfficerDep, thread_id: int,
          body: Annotated[str, Form()]) -> Response:
    with center.sessions() as session:
        forum.reply(session, officer=me, thread_id=thread_id, body=body, now=center.clock())
    return RedirectResponse(f"{PREFIX}/forum/threads/{thread_id}", status_code=303)


@router.post("/threads/{thread_id}/moderate", dependencies=[FORM_CSRF])
def moderate(center: CenterDep, me: OfficerDep, thread_id: int,
             action: Annotated[str, Form()]) -> Response:
    with center.sessions() as session:
        forum.moderate_thread(session, officer=me, thread_id=thread_id, action=action,
                              now=center.clock())
    return RedirectResponse(f"{PREFIX}/forum/threads/{thread_id}", status_code=303)


@router.post("/posts/{post_id}/hide", dependencies=[FORM_CSRF])
def hide_post(center: CenterDep, me: OfficerDep, post_id: int,
              hidden: Annotated[bool, Form()] = True) -> Response:
    with center.sessions() as session:
        post = forum.hide_post(session, officer=me, post_id=post_id, hidden=hidden,
                               now=center.clock())
    return RedirectResponse(f"{PREFIX}/forum/threads/{post.thread_id}", status_code=303)
