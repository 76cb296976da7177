"""Who may call what: the one table of every API route and console page.

Each entry names the permission a caller needs (or that the route is open to anyone, or to
anyone signed in) and whether the objects it touches are limited to the caller's unit subtree.
The API and the pages enforce ``need`` from this table in one dependency each; the handlers
enforce ``scope`` on the objects they load (another unit's object answers 404, as if it did not
exist). The application refuses to start when a route is missing from the table or an entry
names no route, and ``tests/security/test_authorization_sweep.py`` calls every entry as every
role, inside and outside the caller's subtree, and expects what the entry says.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from control_center.core.permissions import Permission


class Open(StrEnum):
    PUBLIC = "public"          # anyone, signed in or not (sign-in, device media, Open311 reads)
    SIGNED_IN = "signed_in"    # any signed-in user or the API token, whatever the role


class Scope(StrEnum):
    NONE = "none"      # nothing unit-bound (media by hash, time, one's own account)
    TREE = "tree"      # the object named in the path (or the unit in the query or body) must
                       # lie in the caller's subtree; lists show only the subtree


@dataclass(frozen=True, slots=True)
class Access:
    need: Permission | Open
    scope: Scope = Scope.TREE
    officer: bool = False  # acts as the caller's own training officer (not the API token)
    center_wide: bool = False  # changes the whole center: only users of a root unit (or the
                               # API token), whatever their permissions

    def allows(self, permissions: frozenset[Permission] | None) -> bool:
        """Whether a caller holding ``permissions`` (None: the API token, all of them) passes."""
        if isinstance(self.need, Open) or permissions is None:
            return True
        return self.need in permissions


P = Permission
PUBLIC = Access(Open.PUBLIC, Scope.NONE)
SIGNED_IN = Access(Open.SIGNED_IN, Scope.NONE)


def tree(need: Permission) -> Access:
    return Access(need, Scope.TREE)


def unscoped(need: Permission) -> Access:
    return Access(need, Scope.NONE)


def center_wide(need: Permission) -> Access:
    """A change to the whole center (its signing key): users of a root unit only."""
    return Access(need, Scope.NONE, center_wide=True)


def officer(scope: Scope) -> Access:
    """Studying and the forum: any role, as the signed-in user's own officer profile."""
    return Access(Permission.VIEW, scope, officer=True)


API = "/api/v1"

ROUTES: dict[str, Access] = {
    # system and sign-in
    "GET /healthz": PUBLIC,
    f"GET {API}/time": PUBLIC,
    f"POST {API}/auth/login": PUBLIC,
    f"POST {API}/auth/logout": PUBLIC,
    f"GET {API}/auth/me": SIGNED_IN,
    # what devices download (content-addressed; a hash is its own capability)
    f"GET {API}/media/{{sha256}}": PUBLIC,
    # live segments: a device's own token for the stream is checked by the route
    f"GET {API}/live/{{stream_id}}/next": PUBLIC,
    f"GET {API}/live/{{stream_id}}/init/{{sha256}}": PUBLIC,
    # a source device's microphone audio: its source token for the stream is checked by the route
    f"POST {API}/live/{{stream_id}}/source": PUBLIC,
    f"HEAD {API}/media/{{sha256}}": PUBLIC,
    f"GET {API}/media/{{sha256}}/waveform.png": PUBLIC,
    # agent releases devices download (the signature and the SHA-256s are the authority)
    f"GET {API}/releases/{{version}}/manifest": PUBLIC,
    f"GET {API}/releases/{{version}}/files/{{name}}": PUBLIC,
    # Open311 (reads are public; creating a request needs a client key, checked in the route)
    f"GET {API}/open311/services.{{fmt}}": PUBLIC,
    f"GET {API}/open311/services/{{code}}.{{fmt}}": PUBLIC,
    f"POST {API}/open311/requests.{{fmt}}": PUBLIC,
    f"GET {API}/open311/requests/{{ref_code}}.{{fmt}}": PUBLIC,
    # Open311 client keys: administrators, for units of their subtree
    f"POST {API}/open311/clients": tree(P.MANAGE_USERS),
    f"GET {API}/open311/clients": tree(P.MANAGE_USERS),
    f"POST {API}/open311/clients/{{client_id}}/revoke": tree(P.MANAGE_USERS),
    # CAP 1.2 in (docs/cap.md): a sender's X-CAP-Key is checked by the route; administrators
    # register the senders of their subtree and read the alerts those sent
    f"POST {API}/cap/alerts": PUBLIC,
    f"GET {API}/cap/alerts": tree(P.MANAGE_USERS),
    f"POST {API}/cap/senders": tree(P.MANAGE_USERS),
    f"GET {API}/cap/senders": tree(P.MANAGE_USERS),
    f"PATCH {API}/cap/senders/{{sender_id}}": tree(P.MANAGE_USERS),
    f"POST {API}/cap/senders/{{sender_id}}/revoke": tree(P.MANAGE_USERS),
    # CAP 1.2 out: approved emergency and priority bulletins, public as alert feeds are
    "GET /cap/feed.atom": PUBLIC,
    "GET /cap/alerts/{bulletin_id}.xml": PUBLIC,
    # users and the tree
    f"POST {API}/users": tree(P.MANAGE_USERS),
    f"GET {API}/users": tree(P.MANAGE_USERS),
    f"POST {API}/units": tree(P.MANAGE_FLEET),
    f"GET {API}/units": tree(P.VIEW),
    f"GET {API}/units/{{unit_id}}": tree(P.VIEW),
    f"PATCH {API}/units/{{unit_id}}": tree(P.MANAGE_FLEET),
    f"POST {API}/units/{{unit_id}}/retire": tree(P.MANAGE_FLEET),
    f"GET {API}/units/{{unit_id}}/devices": tree(P.VIEW),
    f"POST {API}/groups": tree(P.MANAGE_FLEET),
    f"GET {API}/groups": tree(P.MANAGE_FLEET),
    f"GET {API}/groups/{{group_id}}": tree(P.MANAGE_FLEET),
    # devices
    f"POST {API}/devices": tree(P.ENROL),
    f"GET {API}/devices": tree(P.VIEW),
    f"GET {API}/devices/{{device_id}}": tree(P.VIEW),
    f"GET {API}/devices/{{device_id}}/manifest": tree(P.VIEW),
    f"POST {API}/devices/{{device_id}}/commands": tree(P.SCHEDULE),
    f"GET {API}/devices/{{device_id}}/commands": tree(P.VIEW),
    f"GET {API}/devices/versions": tree(P.VIEW),
    # agent releases (code every device may be made to run: uploaded by users of a root unit
    # only) and rollouts in waves
    f"POST {API}/releases": center_wide(P.RELEASES),
    f"GET {API}/releases": unscoped(P.VIEW),
    f"POST {API}/rollouts": tree(P.RELEASES),
    f"GET {API}/rollouts": tree(P.VIEW),
    f"GET {API}/rollouts/{{rollout_id}}": tree(P.VIEW),
    f"POST {API}/rollouts/{{rollout_id}}/halt": tree(P.RELEASES),
    f"POST {API}/rollouts/{{rollout_id}}/resume": tree(P.RELEASES),
    f"PATCH {API}/devices/{{device_id}}": tree(P.MANAGE_FLEET),
    f"POST {API}/devices/import": tree(P.ENROL),
    f"POST {API}/devices/{{device_id}}/enrolment-codes": tree(P.ENROL),
    f"POST {API}/devices/{{device_id}}/retire": tree(P.MANAGE_FLEET),
    f"POST {API}/devices/{{device_id}}/revoke": tree(P.MANAGE_FLEET),
    f"POST {API}/devices/{{device_id}}/rotate-credential": tree(P.MANAGE_FLEET),
    # links between centers (docs/federation.md): messages carry their own signatures
    f"GET {API}/federation/identity": center_wide(P.MANAGE_USERS),
    f"GET {API}/federation/peers": center_wide(P.MANAGE_USERS),
    f"POST {API}/federation/peers": center_wide(P.MANAGE_USERS),
    f"POST {API}/federation/peers/{{peer_id}}/revoke": center_wide(P.MANAGE_USERS),
    f"POST {API}/federation/messages": PUBLIC,
    f"GET {API}/federation/bulletins": center_wide(P.VIEW),
    f"POST {API}/federation/bulletins": center_wide(P.SCHEDULE),
    f"POST {API}/federation/bulletins/{{row_id}}/accept": center_wide(P.SCHEDULE),
    f"POST {API}/federation/bulletins/{{row_id}}/decline": center_wide(P.SCHEDULE),
    # the center's signing key (center-wide: users of a root unit, or the API token)
    f"GET {API}/signing-keys": center_wide(P.MANAGE_FLEET),
    f"POST {API}/signing-keys/rotate": center_wide(P.MANAGE_FLEET),
    f"POST {API}/signing-keys/activate": center_wide(P.MANAGE_FLEET),
    # the brokers (configuration, their devices and connection state)
    f"GET {API}/brokers": center_wide(P.MANAGE_FLEET),
    # a device trades its one-time code for its credential (the code is the credential)
    f"POST {API}/enrol": PUBLIC,
    # media and bulletins
    # uploads: for bulletins and for emergency recordings; every role that edits bulletins
    # may also send emergencies, so the emergency permission covers both (approvers included)
    f"POST {API}/media": unscoped(P.EMERGENCY),
    f"POST {API}/media/speech": unscoped(P.EMERGENCY),
    f"GET {API}/media/speech/{{job_id}}": unscoped(P.EMERGENCY),  # the caller's own jobs
    f"GET {API}/media": unscoped(P.VIEW),
    f"GET {API}/media/{{sha256}}/info": unscoped(P.VIEW),
    f"POST {API}/bulletins": tree(P.EDIT_BULLETINS),
    f"GET {API}/bulletins": tree(P.VIEW),
    f"GET {API}/bulletins/{{bulletin_id}}": tree(P.VIEW),
    f"PATCH {API}/bulletins/{{bulletin_id}}": tree(P.EDIT_BULLETINS),
    f"POST {API}/bulletins/{{bulletin_id}}/submit": tree(P.EDIT_BULLETINS),
    f"POST {API}/bulletins/{{bulletin_id}}/approve": tree(P.APPROVE),
    f"POST {API}/bulletins/{{bulletin_id}}/reject": tree(P.APPROVE),
    f"POST {API}/bulletins/{{bulletin_id}}/publish": tree(P.SCHEDULE),
    f"PUT {API}/bulletins/{{bulletin_id}}/survey": tree(P.SCHEDULE),
    f"GET {API}/bulletins/{{bulletin_id}}/survey": tree(P.VIEW),
    f"DELETE {API}/bulletins/{{bulletin_id}}/survey": tree(P.SCHEDULE),
    f"GET {API}/bulletins/{{bulletin_id}}/distribution": tree(P.VIEW),
    # schedules and content sent down the tree
    f"POST {API}/schedules": tree(P.SCHEDULE),
    f"POST {API}/schedules/check": tree(P.SCHEDULE),
    f"GET {API}/schedules": tree(P.VIEW),
    f"GET {API}/schedules/{{schedule_id}}": tree(P.VIEW),
    f"PATCH {API}/schedules/{{schedule_id}}": tree(P.SCHEDULE),
    f"DELETE {API}/schedules/{{schedule_id}}": tree(P.SCHEDULE),
    f"GET {API}/distributions": tree(P.VIEW),
    f"GET {API}/distributions/{{distribution_id}}": tree(P.VIEW),
    f"POST {API}/distributions/{{distribution_id}}/accept": tree(P.SCHEDULE),
    f"POST {API}/distributions/{{distribution_id}}/decline": tree(P.SCHEDULE),
    f"POST {API}/distributions/{{distribution_id}}/rank": tree(P.SCHEDULE),
    # emergencies
    f"POST {API}/emergency": tree(P.EMERGENCY),
    f"POST {API}/emergency/{{broadcast_id}}/send": tree(P.APPROVE),  # and EMERGENCY
    f"GET {API}/emergency": tree(P.EMERGENCY),
    f"GET {API}/emergency/{{broadcast_id}}/status": tree(P.EMERGENCY),
    # live microphone sessions (an emergency-priority one needs EMERGENCY as well)
    f"POST {API}/live/sessions": tree(P.LIVE),
    f"GET {API}/live/sessions": tree(P.LIVE),
    f"GET {API}/live/sessions/{{session_id}}": tree(P.LIVE),
    f"POST {API}/live/sessions/{{session_id}}/start": tree(P.LIVE),
    f"POST {API}/live/sessions/{{session_id}}/audio": tree(P.LIVE),
    f"POST {API}/live/sessions/{{session_id}}/stop": tree(P.LIVE),
    # records
    f"GET {API}/plays": tree(P.VIEW),
    f"GET {API}/events": tree(P.VIEW),
    f"GET {API}/audit": tree(P.AUDIT),
    # monitoring
    f"GET {API}/monitoring/overview": tree(P.ALERTS),
    f"GET {API}/monitoring/devices/{{device_id}}": tree(P.ALERTS),
    f"GET {API}/monitoring/devices/{{device_id}}/series": tree(P.ALERTS),
    f"GET {API}/monitoring/alerts": tree(P.ALERTS),
    f"POST {API}/monitoring/alerts/{{alert_id}}/acknowledge": tree(P.ALERTS),
    f"POST {API}/monitoring/alerts/{{alert_id}}/resolve": tree(P.ALERTS),
    f"GET {API}/monitoring/reports/plays": tree(P.ALERTS),
    f"GET {API}/monitoring/telemetry": tree(P.ALERTS),
    f"GET {API}/reports/effectiveness": tree(P.VIEW),
    # citizen feedback
    f"GET {API}/feedback/categories": tree(P.FEEDBACK),
    f"PUT {API}/feedback/categories": tree(P.FEEDBACK),
    f"GET {API}/feedback": tree(P.FEEDBACK),
    f"GET {API}/feedback/{{feedback_id}}": tree(P.FEEDBACK),
    f"POST {API}/feedback/{{feedback_id}}/triage": tree(P.FEEDBACK),
    f"POST {API}/feedback/{{feedback_id}}/route": tree(P.FEEDBACK),
    f"POST {API}/feedback/{{feedback_id}}/assign": tree(P.FEEDBACK),
    f"POST {API}/feedback/{{feedback_id}}/notes": tree(P.FEEDBACK),
    f"POST {API}/feedback/{{feedback_id}}/answer": tree(P.FEEDBACK),
    f"POST {API}/feedback/{{feedback_id}}/close": tree(P.FEEDBACK),
    # training
    f"POST {API}/training/officers": tree(P.TRAINING_ADMIN),
    f"GET {API}/training/officers": tree(P.TRAINING_ADMIN),
    f"POST {API}/training/courses/import": tree(P.TRAINING_ADMIN),
    f"GET {API}/training/courses": unscoped(P.VIEW),
    f"GET {API}/training/courses/{{course_id}}": unscoped(P.VIEW),
    f"GET {API}/training/courses/{{course_id}}/export": unscoped(P.TRAINING_ADMIN),
    f"POST {API}/training/courses/{{course_id}}/kiosk": tree(P.TRAINING_ADMIN),
    f"GET {API}/training/kiosk-attempts": tree(P.TRAINING_ADMIN),
    f"POST {API}/training/assignments": tree(P.TRAINING_ADMIN),
    f"GET {API}/training/assignments": tree(P.TRAINING_ADMIN),
    f"POST {API}/training/quizzes/{{quiz_id}}/attempts": officer(Scope.NONE),
    f"GET {API}/training/quizzes/{{quiz_id}}/attempts": officer(Scope.NONE),
    f"POST {API}/training/attempts/{{attempt_id}}/submit": officer(Scope.NONE),
    f"GET {API}/training/reports": tree(P.TRAINING_ADMIN),
    f"GET {API}/training/reports.csv": tree(P.TRAINING_ADMIN),
    f"GET {API}/training/xapi/statements": tree(P.TRAINING_ADMIN),
    f"POST {API}/forum/categories": tree(P.VIEW),
    f"GET {API}/forum/categories": officer(Scope.TREE),
    f"GET {API}/forum/categories/{{category_id}}/threads": officer(Scope.TREE),
    f"POST {API}/forum/categories/{{category_id}}/threads": officer(Scope.TREE),
    f"GET {API}/forum/threads/{{thread_id}}": officer(Scope.TREE),
    f"GET {API}/forum/mentions": officer(Scope.TREE),
    f"POST {API}/forum/threads/{{thread_id}}/posts": officer(Scope.TREE),
    f"POST {API}/forum/threads/{{thread_id}}/moderate": officer(Scope.TREE),
    f"POST {API}/forum/posts/{{post_id}}/hide": officer(Scope.TREE),
    # monitoring and training pages
    "GET /monitor/login": PUBLIC,
    "POST /monitor/login": PUBLIC,
    "POST /monitor/logout": PUBLIC,
    "GET /monitor/sign-in/{code}": PUBLIC,  # a one-time link is its own credential
    "GET /monitor": tree(P.VIEW),
    "GET /monitor/devices/{device_id}": tree(P.VIEW),
    "GET /monitor/alerts": tree(P.VIEW),
    "POST /monitor/alerts/{alert_id}/{action}": tree(P.ALERTS),
    "GET /monitor/reports": tree(P.VIEW),
    "GET /monitor/reports.csv": tree(P.VIEW),
    "GET /monitor/effectiveness": tree(P.VIEW),
    "GET /monitor/effectiveness.csv": tree(P.VIEW),
    "GET /monitor/training": officer(Scope.TREE),
    "GET /monitor/training/courses/{course_id}": officer(Scope.NONE),
    "GET /monitor/training/lessons/{lesson_id}": officer(Scope.NONE),
    "GET /monitor/training/media/{sha256}": unscoped(P.VIEW),
    "GET /monitor/training/quizzes/{quiz_id}": officer(Scope.NONE),
    "POST /monitor/training/quizzes/{quiz_id}/start": officer(Scope.NONE),
    "POST /monitor/training/attempts/{attempt_id}/submit": officer(Scope.NONE),
    "GET /monitor/training/attempts/{attempt_id}": officer(Scope.NONE),
    "GET /monitor/training/reports": tree(P.TRAINING_ADMIN),
    "GET /monitor/training/reports.csv": tree(P.TRAINING_ADMIN),
    "GET /monitor/training/forum": officer(Scope.TREE),
    "GET /monitor/training/forum/{category_id}": officer(Scope.TREE),
    "POST /monitor/training/forum/{category_id}/threads": officer(Scope.TREE),
    "GET /monitor/training/forum/threads/{thread_id}": officer(Scope.TREE),
    "POST /monitor/training/forum/threads/{thread_id}/reply": officer(Scope.TREE),
    "POST /monitor/training/forum/threads/{thread_id}/moderate": officer(Scope.TREE),
    "POST /monitor/training/forum/posts/{post_id}/hide": officer(Scope.TREE),
    # the console
    "GET /console/login": PUBLIC,
    "POST /console/login": PUBLIC,
    "POST /console/logout": PUBLIC,
    "GET /console": tree(P.VIEW),
    "GET /console/account": SIGNED_IN,
    "POST /console/account/password": SIGNED_IN,
    "GET /console/bulletins": tree(P.VIEW),
    "GET /console/bulletins/new": tree(P.EDIT_BULLETINS),
    "POST /console/bulletins/new": tree(P.EDIT_BULLETINS),
    "GET /console/bulletins/{bulletin_id}": tree(P.VIEW),
    "GET /console/bulletins/{bulletin_id}/edit": tree(P.EDIT_BULLETINS),
    "POST /console/bulletins/{bulletin_id}/edit": tree(P.EDIT_BULLETINS),
    "POST /console/bulletins/{bulletin_id}/submit": tree(P.EDIT_BULLETINS),
    "POST /console/bulletins/{bulletin_id}/approve": tree(P.APPROVE),
    "POST /console/bulletins/{bulletin_id}/reject": tree(P.APPROVE),
    "POST /console/bulletins/{bulletin_id}/publish": tree(P.SCHEDULE),
    "GET /console/bulletins/{bulletin_id}/distribution": tree(P.VIEW),
    "POST /console/bulletins/{bulletin_id}/survey": tree(P.SCHEDULE),
    "POST /console/bulletins/{bulletin_id}/survey/stop": tree(P.SCHEDULE),
    "GET /console/inbox": tree(P.VIEW),
    "POST /console/inbox/{distribution_id}/accept": tree(P.SCHEDULE),
    "POST /console/inbox/{distribution_id}/decline": tree(P.SCHEDULE),
    "POST /console/inbox/{distribution_id}/rank": tree(P.SCHEDULE),
    # links between centers (docs/federation.md, "Console"): users of a root unit only
    "GET /console/federation": center_wide(P.VIEW),
    "POST /console/federation/peers": center_wide(P.MANAGE_USERS),
    "POST /console/federation/peers/{peer_id}/revoke": center_wide(P.MANAGE_USERS),
    "POST /console/federation/bulletins/{row_id}/accept": center_wide(P.SCHEDULE),
    "POST /console/federation/bulletins/{row_id}/decline": center_wide(P.SCHEDULE),
    "POST /console/bulletins/{bulletin_id}/centers": center_wide(P.SCHEDULE),
    "GET /console/calendar": tree(P.VIEW),
    "GET /console/schedules": tree(P.VIEW),
    "GET /console/schedules/new": tree(P.SCHEDULE),
    "POST /console/schedules/new": tree(P.SCHEDULE),
    "GET /console/schedules/{schedule_id}": tree(P.VIEW),
    "POST /console/schedules/{schedule_id}/cancel": tree(P.SCHEDULE),
    "GET /console/emergency": tree(P.EMERGENCY),
    "POST /console/emergency/review": tree(P.EMERGENCY),
    "POST /console/emergency/edit": tree(P.EMERGENCY),
    "POST /console/emergency/send": tree(P.EMERGENCY),
    "GET /console/emergency/{broadcast_id}": tree(P.EMERGENCY),
    "POST /console/emergency/{broadcast_id}/send": tree(P.APPROVE),  # and EMERGENCY
    "GET /console/live": tree(P.LIVE),
    "POST /console/live": tree(P.LIVE),
    "GET /console/live/{session_id}": tree(P.LIVE),
    "POST /console/live/{session_id}/start": tree(P.LIVE),
    "POST /console/live/{session_id}/stop": tree(P.LIVE),
    "GET /console/feedback": tree(P.FEEDBACK),
    "GET /console/feedback/{feedback_id}": tree(P.FEEDBACK),
    "POST /console/feedback/{feedback_id}/triage": tree(P.FEEDBACK),
    "POST /console/feedback/{feedback_id}/route": tree(P.FEEDBACK),
    "POST /console/feedback/{feedback_id}/assign": tree(P.FEEDBACK),
    "POST /console/feedback/{feedback_id}/notes": tree(P.FEEDBACK),
    "POST /console/feedback/{feedback_id}/answer": tree(P.FEEDBACK),
    "POST /console/feedback/{feedback_id}/speakers": tree(P.FEEDBACK),
    "POST /console/feedback/categories/{code}/due": tree(P.FEEDBACK),
    "GET /console/devices": tree(P.VIEW),
    "GET /console/devices/new": tree(P.ENROL),
    "POST /console/devices/new": tree(P.ENROL),
    "POST /console/devices/import": tree(P.ENROL),
    "GET /console/devices/{device_id}": tree(P.ENROL),
    "POST /console/devices/{device_id}/edit": tree(P.MANAGE_FLEET),
    "POST /console/devices/{device_id}/enrolment-code": tree(P.ENROL),
    "POST /console/devices/{device_id}/rotate": tree(P.MANAGE_FLEET),
    "POST /console/devices/{device_id}/retire": tree(P.MANAGE_FLEET),
    "POST /console/devices/{device_id}/revoke": tree(P.MANAGE_FLEET),
    "GET /console/units": tree(P.VIEW),
    "POST /console/units": tree(P.MANAGE_FLEET),
    "GET /console/units/{unit_id}": tree(P.MANAGE_FLEET),
    "POST /console/units/{unit_id}/rename": tree(P.MANAGE_FLEET),
    "POST /console/units/{unit_id}/move": tree(P.MANAGE_FLEET),
    "POST /console/units/{unit_id}/retire": tree(P.MANAGE_FLEET),
    "POST /console/units/{unit_id}/broker": tree(P.MANAGE_FLEET),
    "GET /console/versions": tree(P.VIEW),
    "POST /console/versions/rollouts": tree(P.RELEASES),
    "GET /console/versions/rollouts/{rollout_id}": tree(P.VIEW),
    "POST /console/versions/rollouts/{rollout_id}/halt": tree(P.RELEASES),
    "POST /console/versions/rollouts/{rollout_id}/resume": tree(P.RELEASES),
    "GET /console/audit": tree(P.AUDIT),
    "GET /console/audit.csv": tree(P.AUDIT),
    "GET /console/users": tree(P.MANAGE_USERS),
    "POST /console/users": tree(P.MANAGE_USERS),
    "POST /console/users/{user_id}/{action}": tree(P.MANAGE_USERS),
}


def route_key(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def access_for(method: str, path: str) -> Access:
    """The table's entry; KeyError for a route nobody entered (start-up refuses those)."""
    return ROUTES[route_key(method, path)]


def unlisted(routes: set[str]) -> tuple[list[str], list[str]]:
    """(routes missing from the table, table entries that name no route), each sorted."""
    return sorted(routes - ROUTES.keys()), sorted(ROUTES.keys() - routes)
