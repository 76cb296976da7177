"""What a lesson may hold, for the center that packs it and the kiosk that shows it.

Pictures are raster images (PNG, JPEG, WebP, GIF) and sounds are audio, each recognised by its
first bytes and not only by its file name: SVG, HTML, XML or anything else a browser could run
script from is never course media. Links and pictures in lessons point to relative or http(s)
targets only (no ``javascript:``, ``data:``, ``vbscript:``, ``file:``...).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_RIFF = b"RIFF"


def _riff(kind: bytes) -> Callable[[bytes], bool]:
    return lambda head: head.startswith(_RIFF) and head[8:12] == kind


def _mp3(head: bytes) -> bool:
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF
                                       and head[1] & 0xE0 == 0xE0)


def _mp4_audio(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in (b"M4A ", b"M4B ", b"mp42", b"isom")


# extension -> (MIME type, check of the first bytes); the MIME types are those the center
# has always recorded (Python's table), so existing bundles keep their bytes.
LESSON_MEDIA: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    ".png": ("image/png", lambda h: h.startswith(b"\x89PNG\r\n\x1a\n")),
    ".jpg": ("image/jpeg", lambda h: h.startswith(b"\xff\xd8\xff")),
    ".jpeg": ("image/jpeg", lambda h: h.startswith(b"\xff\xd8\xff")),
    ".gif": ("image/gif", lambda h: h.startswith((b"GIF87a", b"GIF89a"))),
    ".webp": ("image/webp", _riff(b"WEBP")),
    ".wav": ("audio/x-wav", _riff(b"WAVE")),
    ".ogg": ("audio/ogg", lambda h: h.startswith(b"OggS")),
    ".oga": ("audio/ogg", lambda h: h.startswith(b"OggS")),
    ".opus": ("audio/ogg", lambda h: h.startswith(b"OggS")),
    ".mp3": ("audio/mpeg", _mp3),
    ".m4a": ("audio/mp4", _mp4_audio),
    ".flac": ("audio/flac", lambda h: h.startswith(b"fLaC")),
}
PICTURE_TYPES = frozenset(m for m, _ in LESSON_MEDIA.values() if m.startswith("image/"))
ALLOWED_NAMES = ", ".join(sorted({e.lstrip(".").upper() for e in LESSON_MEDIA} - {"JPEG",
                                                                                    "OGA"}))

_MARKUP = re.compile(rb"^(\xef\xbb\xbf)?\s*<[a-z!?]", re.IGNORECASE)  # XML, HTML, SVG...


class RefusedMedia(ValueError):
    """A file that cannot be lesson media; the message says what it is and what is allowed."""


def lesson_media_type(name: str, data: bytes) -> str:
    """The MIME type of the lesson picture or sound ``name`` holding ``data``; raises
    RefusedMedia when the name or the first bytes are not an allowed picture or sound."""
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    head = data[:64]
    if ext in (".svg", ".svgz"):
        raise RefusedMedia("SVG pictures can carry script and are refused: export it as PNG "
                           f"(allowed: {ALLOWED_NAMES})")
    if ext in LESSON_MEDIA and LESSON_MEDIA[ext][1](head):
        return LESSON_MEDIA[ext][0]
    if _MARKUP.match(head) or b"<svg" in data[:1024].lower():
        raise RefusedMedia("the file is SVG, HTML or XML text, which can carry script, not a "
                           f"picture or sound (allowed: {ALLOWED_NAMES})")
    if ext not in LESSON_MEDIA:
        raise RefusedMedia(f"'{ext or name}' files cannot be course media (allowed: "
                           f"{ALLOWED_NAMES})")
    raise RefusedMedia(f"the content is not {ext.lstrip('.').upper()} (its first bytes do "
                       "not match): save it again in that format")


def is_lesson_media(mime: str, data: bytes) -> bool:
    """True when ``data`` is an allowed picture or sound of type ``mime`` by its first bytes
    (the kiosk's check of the media in a bundle before it serves them)."""
    base = mime.split(";", 1)[0].strip().lower()
    return any(m == base and check(data[:64]) for m, check in LESSON_MEDIA.values())


def shown_inline(mime: str) -> bool:
    """Pictures and sounds a page may show in place; anything else is a download."""
    base = mime.split(";", 1)[0].strip().lower()
    return base in PICTURE_TYPES or base.startswith("audio/")


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def safe_link(url: str) -> bool:
    """True for a relative target (``media/x.png``, ``/training/...``, ``#part``) or an
    ``http(s)://`` one; False for any other scheme, a scheme-relative ``//host`` and for
    spaces, control characters or backslashes (which browsers drop or bend)."""
    if not url or any(c.isspace() or ord(c) < 0x20 or c == "\\" for c in url):
        return False
    if _SCHEME.match(url):
        return url.lower().startswith(("http://", "https://"))
    return not url.startswith("//")
