"""What each role may do. Every permission applies inside the user's unit subtree only."""

from __future__ import annotations

from enum import StrEnum

from control_center.models.accounts import Role


class Permission(StrEnum):
    MANAGE_USERS = "manage_users"
    MANAGE_FLEET = "manage_fleet"            # units, devices, groups
    ENROL = "enrol_devices"                  # register devices, issue enrolment codes
    VIEW = "view"                            # bulletins, schedules, devices, plays
    EDIT_BULLETINS = "edit_bulletins"        # create, edit, submit, upload media
    APPROVE = "approve"
    SCHEDULE = "schedule"                    # schedules, inbox decisions, publishing down
    EMERGENCY = "emergency"                  # send an emergency broadcast (approved content)
    LIVE = "live"                            # speak live from the console (an emergency-
                                             # priority session needs EMERGENCY as well)
    ALERTS = "alerts"
    FEEDBACK = "feedback"
    AUDIT = "audit"
    TRAINING_ADMIN = "training_admin"        # courses, kiosk publishing, officers, assignments,
                                             # training reports and xAPI
    RELEASES = "releases"                    # agent releases and rollouts (code the center
                                             # signs and devices run): administrators only


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset({Permission.VIEW, Permission.EDIT_BULLETINS, Permission.SCHEDULE,
                              Permission.EMERGENCY, Permission.LIVE}),
    Role.APPROVER: frozenset({Permission.VIEW, Permission.APPROVE, Permission.EMERGENCY,
                              Permission.AUDIT, Permission.TRAINING_ADMIN}),
    Role.TECHNICIAN: frozenset({Permission.VIEW, Permission.ALERTS, Permission.ENROL}),
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

# What each permission lets a role do, (Vietnamese, English), for the 403 message.
PERMISSION_LABELS: dict[Permission, tuple[str, str]] = {
    Permission.MANAGE_USERS: ("quản lý tài khoản", "manage user accounts"),
    Permission.MANAGE_FLEET: ("quản lý đơn vị và thiết bị", "manage units and devices"),
    Permission.ENROL: ("đăng ký và ghi danh thiết bị", "register and enrol devices"),
    Permission.VIEW: ("xem", "view"),
    Permission.EDIT_BULLETINS: ("soạn bản tin và tải tệp", "edit bulletins and upload media"),
    Permission.APPROVE: ("duyệt tin", "approve"),
    Permission.SCHEDULE: ("lập lịch phát", "schedule"),
    Permission.EMERGENCY: ("phát khẩn cấp", "send emergency broadcasts"),
    Permission.LIVE: ("phát trực tiếp", "speak live"),
    Permission.ALERTS: ("xử lý cảnh báo thiết bị", "handle device alerts"),
    Permission.FEEDBACK: ("xử lý phản ánh", "handle citizen feedback"),
    Permission.AUDIT: ("xem nhật ký thao tác", "read the audit log"),
    Permission.TRAINING_ADMIN: ("quản trị đào tạo", "act as training administrator"),
    Permission.RELEASES: ("quản lý phiên bản phần mềm thiết bị", "manage agent releases and "
                          "rollouts"),
}


def denied_message(role: Role, permission: Permission) -> str:
    """The 403 message: who may not do what, and which roles may."""
    vi, en = PERMISSION_LABELS[permission]
    allowed = ", ".join(r.value for r, granted in ROLE_PERMISSIONS.items() if permission in granted)
    return (f"Vai trò của bạn ({ROLE_LABELS[role].split(' / ')[0]}) không được {vi} / "
            f"your role ({role.value}) may not {en} (roles that may: {allowed}).")
