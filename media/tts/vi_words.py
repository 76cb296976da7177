"""The word tables of the Vietnamese normaliser: abbreviations, document codes, places, units.

Expansions are lower-case words; everything else in a text is left as written.
"""

from __future__ import annotations

# Spelt out wherever they stand as a word (case-sensitive, so "TT" or "CP" in prose stay).
ABBREVIATIONS: dict[str, str] = {
    "UBND": "ủy ban nhân dân",
    "HĐND": "hội đồng nhân dân",
    "UBMTTQ": "ủy ban mặt trận tổ quốc",
    "MTTQ": "mặt trận tổ quốc",
    "QĐ": "quyết định",
    "NĐ": "nghị định",
    "BTTTT": "bộ thông tin và truyền thông",
    "TT&TT": "thông tin và truyền thông",
    "NN&PTNT": "nông nghiệp và phát triển nông thôn",
    "TN&MT": "tài nguyên và môi trường",
    "GD&ĐT": "giáo dục và đào tạo",
    "LĐTBXH": "lao động thương binh và xã hội",
    "BYT": "bộ y tế",
    "TTYT": "trung tâm y tế",
    "TYT": "trạm y tế",
    "HCM": "hồ chí minh",
    "BCĐ": "ban chỉ đạo",
    "BCH": "ban chỉ huy",
    "CHQS": "chỉ huy quân sự",
    "PCCC": "phòng cháy chữa cháy",
    "PCTT": "phòng chống thiên tai",
    "TKCN": "tìm kiếm cứu nạn",
    "CSGT": "cảnh sát giao thông",
    "ATGT": "an toàn giao thông",
    "ATTP": "an toàn thực phẩm",
    "ANTT": "an ninh trật tự",
    "NTM": "nông thôn mới",
    "HTX": "hợp tác xã",
    "THPT": "trung học phổ thông",
    "THCS": "trung học cơ sở",
    "BHYT": "bảo hiểm y tế",
    "BHXH": "bảo hiểm xã hội",
    "CCCD": "căn cước công dân",
    "CMND": "chứng minh nhân dân",
    "CAND": "công an nhân dân",
    "QĐND": "quân đội nhân dân",
    "KT-XH": "kinh tế xã hội",
    "TDP": "tổ dân phố",
    "SĐT": "số điện thoại",
    "ĐT": "điện thoại",
    "TW": "trung ương",
    "QL": "quốc lộ",
    "QH": "quốc hội",
    "VN": "việt nam",
    "COVID-19": "cô vít mười chín",
    "TP": "thành phố",
    "Đ/c": "đồng chí",
    "đ/c": "đồng chí",
    "V/v": "về việc",
    "v.v.": "vân vân",
}

# Only inside a document number ("345/QĐ-UBND") or a chain of codes ("NĐ-CP").
DOCUMENT_CODES: dict[str, str] = {
    "QĐ": "quyết định",
    "NĐ": "nghị định",
    "TT": "thông tư",
    "NQ": "nghị quyết",
    "CT": "chỉ thị",
    "KH": "kế hoạch",
    "TB": "thông báo",
    "CV": "công văn",
    "BC": "báo cáo",
    "HD": "hướng dẫn",
    "CP": "chính phủ",
    "TTg": "thủ tướng chính phủ",
    "VP": "văn phòng",
    "TU": "tỉnh ủy",
    "HU": "huyện ủy",
    "ĐU": "đảng ủy",
    "BTV": "ban thường vụ",
    "BCA": "bộ công an",
    "BGDĐT": "bộ giáo dục và đào tạo",
    "SYT": "sở y tế",
}

# Administrative prefixes written with a dot, before a number or a capitalised name.
PLACES: dict[str, str] = {
    "TP": "thành phố",
    "Tp": "thành phố",
    "TX": "thị xã",
    "TT": "thị trấn",
    "KP": "khu phố",
    "P": "phường",
    "Q": "quận",
    "H": "huyện",
    "X": "xã",
}

# Symbols after a number.
UNITS: dict[str, str] = {
    "%": "phần trăm",
    "km/h": "ki lô mét một giờ",
    "km2": "ki lô mét vuông",
    "km²": "ki lô mét vuông",
    "km": "ki lô mét",
    "kg": "ki lô gam",
    "g": "gam",
    "m2": "mét vuông",
    "m²": "mét vuông",
    "m3": "mét khối",
    "m³": "mét khối",
    "cm": "xăng ti mét",
    "mm": "mi li mét",
    "ml": "mi li lít",
    "ha": "héc ta",
    "°C": "độ xê",
    "oC": "độ xê",
    "kWh": "ki lô oát giờ",
    "kW": "ki lô oát",
    "MW": "mê ga oát",
    "kV": "ki lô vôn",
    "VNĐ": "đồng",
    "VND": "đồng",
    "đ": "đồng",
    "m": "mét",
}

# "đồng/người", "m³/s": the slash is read "một" before these.
PER: dict[str, str] = {
    "s": "giây", "h": "giờ", "kg": "ki lô gam", "ha": "héc ta", "m2": "mét vuông",
    "người": "người", "hộ": "hộ", "tháng": "tháng", "năm": "năm", "ngày": "ngày",
    "tuần": "tuần", "giờ": "giờ", "lượt": "lượt", "suất": "suất", "lần": "lần",
    "buổi": "buổi", "con": "con", "xe": "xe", "lít": "lít", "sào": "sào", "cháu": "cháu",
}
