"""Console pages: the audit log (read-only, filtered, exported as CSV).

Users with Permission.AUDIT read the entries of actors inside their subtree; entries of the
system token only when they administer a root unit (``services.audit.visible_to``).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from control_center.core.permissions import Permission
from control_center.errors import Forbidden
from control_center.models import AuditEntry
from control_center.services import audit_export
from control_center.web.console.common import PREFIX, ConsoleDep, FormState, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE_SIZE = 200
DENIED = ("Vai trò của bạn không được xem nhật ký thao tác / your role may not read the audit "
          "log (approvers and administrators may).")
ACTION_LABELS = {
    "emergency_send": "Phát khẩn cấp / emergency sent",
    "emergency_request": "Yêu cầu phát khẩn cấp / emergency requested",
    "emergency_undelivered": "Lệnh khẩn cấp không tới máy chủ MQTT / emergency not delivered",
    "login": "Đăng nhập / sign-in", "login_failed": "Đăng nhập sai / failed sign-in",
    "login_locked": "Khóa tài khoản / account locked", "create": "Tạo / create",
    "update": "Sửa / update", "delete": "Xóa / delete", "approve": "Duyệt / approve",
    "reject": "Từ chối / reject", "submit": "Gửi duyệt / submit", "command": "Lệnh / command",
    "upload": "Tải lên / upload",
}


def _filter(
    form: FormState, *, actor: str, action: str, object_type: str, object_id: str,
    date_from: str, date_to: str, flagged: str,
) -> audit_export.AuditFilter:
    flt, errors = audit_export.parse_filter(
        actor=actor, action=action, object_type=object_type, object_id=object_id,
        date_from=date_from, date_to=date_to, flagged=flagged)
    for name, message in errors.items():
        form.error(name, message)
    return flt


@router.get("/audit")
def audit_page(
    ctx: ConsoleDep, actor: str = "", action: str = "", object_type: str = "",
    object_id: str = "", date_from: str = "", date_to: str = "", flagged: str = "",
    offset: int = 0,
) -> Response:
    """The newest entries first, PAGE_SIZE a page; bad dates are shown beside their field."""
    form = FormState(values={"actor": actor, "action": action, "object_type": object_type,
                             "object_id": object_id, "date_from": date_from,
                             "date_to": date_to, "flagged": flagged})
    if not ctx.may(Permission.AUDIT):
        raise Forbidden(DENIED)
    flt = _filter(form, actor=actor, action=action, object_type=object_type,
                  object_id=object_id, date_from=date_from, date_to=date_to, flagged=flagged)
    offset = max(0, offset)
    tz = ZoneInfo(ctx.center.settings.timezone)
    with ctx.center.read_sessions() as session:
        rows = audit_export.entries(session, flt=flt, viewer=ctx.actor, tz=tz,
                                    limit=PAGE_SIZE + 1, offset=offset) if form.ok else []
        actions = sorted(session.scalars(select(AuditEntry.action).distinct()))
        types = sorted(session.scalars(select(AuditEntry.object_type).distinct()))
    params = flt.params()
    more = len(rows) > PAGE_SIZE
    return render(
        ctx, "console_audit.html", status_code=200 if form.ok else 422, form=form,
        entries=[_row(e) for e in rows[:PAGE_SIZE]], actions=actions, types=types,
        action_labels=ACTION_LABELS, csv_url=f"{PREFIX}/audit.csv?{urlencode(params)}",
        next_url=f"{PREFIX}/audit?{urlencode({**params, 'offset': offset + PAGE_SIZE})}"
        if more else None,
        newer_url=f"{PREFIX}/audit?{urlencode({**params, 'offset': offset - PAGE_SIZE})}"
        if offset >= PAGE_SIZE else None)


def _row(entry: AuditEntry) -> dict[str, object]:
    detail = json.loads(entry.detail or "{}")
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True)
    return {"entry": entry, "detail": text, "short": text if len(text) <= 160
            else text[:157] + "…"}


@router.get("/audit.csv")
def audit_csv(
    ctx: ConsoleDep, actor: str = "", action: str = "", object_type: str = "",
    object_id: str = "", date_from: str = "", date_to: str = "", flagged: str = "",
) -> Response:
    """The same filtered entries as a CSV file (up to audit_export.EXPORT_LIMIT rows)."""
    form = FormState()
    if not ctx.may(Permission.AUDIT):
        raise Forbidden(DENIED)
    flt = _filter(form, actor=actor, action=action, object_type=object_type,
                  object_id=object_id, date_from=date_from, date_to=date_to, flagged=flagged)
    if not form.ok:
        return Response("; ".join(form.errors.values()), status_code=422,
                        media_type="text/plain; charset=utf-8")
    tz = ZoneInfo(ctx.center.settings.timezone)
    with ctx.center.read_sessions() as session:
        rows = audit_export.entries(session, flt=flt, viewer=ctx.actor, tz=tz,
                                    limit=audit_export.EXPORT_LIMIT)
    name = audit_export.filename(ctx.center.clock(), tz)
    return Response(audit_export.to_csv(rows, tz), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
