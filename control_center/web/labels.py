"""What the pages call states and roles: Vietnamese first, English beside it."""

from __future__ import annotations

PRESENCE = {"online": "Trực tuyến / online", "silent": "Im lặng quá ngưỡng / silent",
            "offline": "Ngoại tuyến / offline", "never": "Chưa kết nối / never seen"}
ALERT_KINDS = {"offline": "Mất kết nối lâu / offline too long",
               "playback_failures": "Phát lỗi nhiều lần / repeated playback failures",
               "disk_low": "Sắp đầy bộ nhớ / disk almost full",
               "overheating": "Quá nhiệt / overheating",
               "clock_untrusted": "Đồng hồ không tin cậy / clock untrusted",
               "player_stalled": "Trình phát bị treo / player stalled"}
ALERT_STATES = {"open": "Đang mở / open", "acknowledged": "Đã tiếp nhận / acknowledged",
                "resolved": "Đã xử lý / resolved"}
PLAY_STATES = {"completed": "Hoàn thành", "failed": "Lỗi", "interrupted": "Bị ngắt",
               "started": "Đang phát", "scheduled": "Chưa báo cáo", "cancelled": "Đã hủy",
               "shown": "Đã hiển thị (ki-ốt)"}
COMMAND_KINDS = {"play_now": "Phát nội dung tự chọn / play now",
                 "play_bulletin": "Phát bản tin / play bulletin", "stop": "Dừng phát / stop",
                 "set_volume": "Đổi âm lượng / set volume"}
PRIORITIES = {"normal": "Thông thường / normal", "priority": "Ưu tiên / priority",
              "emergency": "Khẩn cấp / emergency"}
COMMAND_RESULTS = {"sent": "Đã gửi / sent", "undelivered": "Không gửi được / undelivered",
                   "refused": "Bị từ chối / refused"}
OFFICER_ROLES = {"editor": "Biên tập viên / editor", "technician": "Kỹ thuật viên / technician",
                 "leader": "Lãnh đạo / leader", "moderator": "Điều phối diễn đàn / moderator"}
DEVICE_STATES = {"active": "Đang hoạt động / active", "retired": "Đã ngừng / retired",
                 "revoked": "Đã thu hồi / revoked"}
UNIT_LEVELS = {"central": "Trung ương / central", "province": "Tỉnh / province",
               "district": "Huyện / district", "commune": "Xã / commune"}
# a service's English message shown on a page, after what went wrong in Vietnamese
ERROR_PREFIXES = {404: "Không tìm thấy", 409: "Xung đột với trạng thái hiện tại",
                  422: "Dữ liệu không hợp lệ", 502: "Máy chủ MQTT từ chối",
                  503: "Máy chủ MQTT chưa sẵn sàng, hãy thử lại"}
