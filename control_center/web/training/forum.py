"""Forum pages: the forums an officer can see (with unread counts), a forum's threads (pinned
first, unread marked), a thread with replies, and the moderator's buttons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from control_center.api.deps import CenterDep
from control_center.training import forum
from control_center.web.training.common import PREFIX, gate, officer_of, pick_officer, render

router = APIRouter(prefix=f"{PREFIX}/forum", include_in_schema=False)


@router.get("")
def forums(request: Request, center: CenterDep) -> Response:
    if (g := gate(request, center)) is not None:
        return g
    with center.read_sessions() as session:
        me = officer_of(request, center, session)
        if me is None:
            return pick_officer(request)
        views = forum.list_categories(session, officer=me)
        mentions = forum.mentions_of(session, officer=me, limit=20)
        return render(center, "training_forums.html", me=me, views=views, mentions=mentions)


@router.get("/{category_id}")
def category_page(request: Request, center: CenterDep, category_id: int) -> Response:
    if (g := gate(request, center)) is not None:
        return g
    with center.read_sessions() as session:
        me = officer_of(request, center, session)
        if me is None:
            return pick_officer(request)
        category = forum.get_category(session, officer=me, category_id=category_id)
        views = forum.list_threads(session, officer=me, category=category)
        return render(center, "training_forum.html", me=me, category=category, views=views)


@router.post("/{category_id}/threads")
def new_thread(request: Request, center: CenterDep, category_id: int,
               title: Annotated[str, Form()], body: Annotated[str, Form()]) -> Response:
    if (g := gate(request, center)) is not None:
        return g
    with center.sessions() as session:
        me = officer_of(request, center, session)
        if me is None:
            return pick_officer(request)
        thread = forum.create_thread(session, officer=me, category_id=category_id, title=title,
                                     body=body, now=center.clock())
    return RedirectResponse(f"{PREFIX}/forum/threads/{thread.id}", status_code=303)


@router.get("/threads/{thread_id}")
def thread_page(request: Request, center: CenterDep, thread_id: int) -> Response:
    if (g := gate(request, center)) is not None:
        return g
    with center.sessions() as session:
        me = officer_of(request, center, session)
        if me is None:
            return pick_officer(request)
        thread, posts, moderator = forum.read_thread(session, officer=me, thread_id=thread_id)
        shown = {p.id: forum.segments(session, p.body) for p, _ in posts}
        return render(center, "training_thread.html", me=me, thread=thread, posts=posts,
                      moderator=moderator, shown=shown)


@router.post("/threads/{thread_id}/reply")
def reply(request: Request, center: CenterDep, thread_id: int,
          body: Annotated[str, Form()]) -> Response:
    if (g := gate(request, center)) is not None:
        return g
    with center.sessions() as session:
        me = officer_of(request, center, session)
        if me is None:
            return pick_officer(request)
        forum.reply(session, officer=me, thread_id=thread_id, body=body, now=center.clock())
    return RedirectResponse(f"{PREFIX}/forum/threads/{thread_id}", status_code=303)


@router.post("/threads/{thread_id}/moderate")
def moderate(request: Request, center: CenterDep, thread_id: int,
             action: Annotated[str, Form()]) -> Response:
    if (g := gate(request, center)) is not None:
        return g
    with center.sessions() as session:
        me = officer_of(request, center, session)
        if me is None:
            return pick_officer(request)
        forum.moderate_thread(session, officer=me, thread_id=thread_id, action=action,
                              now=center.clock())
    return RedirectResponse(f"{PREFIX}/forum/threads/{thread_id}", status_code=303)


@router.post("/posts/{post_id}/hide")
def hide_post(request: Request, center: CenterDep, post_id: int,
              hidden: Annotated[bool, Form()] = True) -> Response:
    if (g := gate(request, center)) is not None:
        return g
    with center.sessions() as session:
        me = officer_of(request, center, session)
        if me is None:
            return pick_officer(request)
        post = forum.hide_post(session, officer=me, post_id=post_id, hidden=hidden,
                               now=center.clock())
    return RedirectResponse(f"{PREFIX}/forum/threads/{post.thread_id}", status_code=303)
