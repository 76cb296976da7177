"""What each role may do. Every permission applies inside the user's unit subtree only."""

from __future__ import annotations

from enum import StrEnum

from control_center.models.accounts import Role


class Permission(StrEnum):
    MANAGE_USERS = "manage_users"
    MANAGE_FLEET = "manage_fleet"            # units, devices, groups
    VIEW = "view"                            # bulletins, schedules, devices, plays
    EDIT_BULLETINS = "edit_bulletins"        # create, edit, submit, upload media
    APPROVE = "approve"
    SCHEDULE = "schedule"                    # schedules, inbox decisions, publishing down
    EMERGENCY = "emergency"                  # send an emergency broadcast (approved content)
    ALERTS = "alerts"
    FEEDBACK = "feedback"
    AUDIT = "audit"
    TRAINING_ADMIN = "training_admin"        # courses, kiosk publishing, officers, assignments,
                                             # training reports and xAPI


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset({Permission.VIEW, Permission.EDIT_BULLETINS, Permission.SCHEDULE,
                              Permission.EMERGENCY}),
    Role.APPROVER: frozenset({Permission.VIEW, Permission.APPROVE, Permission.EMERGENCY,
                              Permission.AUDIT, Permission.TRAINING_ADMIN}),
    Role.TECHNICIAN: frozenset({Permission.VIEW, Permission.ALERTS}),
    Role.FEEDBACK_OFFICER: frozenset({Permission.VIEW, Permission.FEEDBACK}),
    Role.LEARNER: frozenset({Permission.VIEW}),
}

ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Quản trị / administrator",
    Role.OPERATOR: "Biên tập, lập lịch / operator",
    Role.APPROVER: "Duyệt tin / approver",
    Role.TECHNICIAN: "Kỹ thuật / technician",
    Role.FEEDBACK_OFFICER: "Xử lý phản ánh / feedback officer",
    Role.LEARNER: "Học viên / learner",
}
