"""A small, safe Markdown renderer for lessons (headings, lists, emphasis, code, links,
pictures and sounds). Everything is escaped first; links only to http(s), the course's media
and the media library, and every target passes ``protocol.lesson_content.safe_link`` (relative
or http(s)): a ``javascript:``, ``data:`` or ``vbscript:`` link is plain text. No scripts, no
raw HTML."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

from protocol.lesson_content import safe_link

AUDIO_EXT = (".wav", ".ogg", ".opus", ".mp3", ".m4a", ".flac")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"\*(.+?)\*")
_CODE = re.compile(r"`([^`]+)`")

Resolver = Callable[[str], tuple[str, str] | None]  # reference → (url, mime) or None


def _inline(text: str, resolve: Resolver) -> str:
    def image(m: re.Match[str]) -> str:
        found = resolve(m.group(2))
        if found is None or not safe_link(found[0]):
            return escape(m.group(1))
        return f'<img src="{escape(found[0])}" alt="{escape(m.group(1))}">'

    def link(m: re.Match[str]) -> str:
        label, ref = m.group(1), m.group(2)
        found = resolve(ref)
        if found is not None and safe_link(found[0]):
            url, mime = found
            if mime.startswith("audio/") or ref.lower().endswith(AUDIO_EXT):
                return (f'<audio controls preload="none" src="{escape(url)}" '
                        f'title="{escape(label)}"></audio> {escape(label)}')
            return f'<a href="{escape(url)}">{escape(label)}</a>'
        if ref.lower().startswith(("http://", "https://")) and safe_link(ref):
            return f'<a href="{escape(ref)}" rel="noopener">{escape(label)}</a>'
        return escape(label)

    parts: list[str] = []
    pos = 0
    for m in re.finditer(r"!\[[^\]]*\]\([^)\s]+\)|\[[^\]]+\]\([^)\s]+\)", text):
        parts.append(_emphasis(escape(text[pos:m.start()])))
        token = m.group(0)
        parts.append(_IMAGE.sub(image, token) if token.startswith("!") else
                     _LINK.sub(link, token))
        pos = m.end()
    parts.append(_emphasis(escape(text[pos:])))
    return "".join(parts)


def _emphasis(html: str) -> str:
    html = _CODE.sub(r"<code>\1</code>", html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    return _ITALIC.sub(r"<em>\1</em>", html)


def strip_front_matter(source: str) -> str:
    lines = source.splitlines()
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                return "\n".join(lines[i + 1:])
    return source


def render(source: str, resolve: Resolver) -> str:
    out: list[str] = []
    para: list[str] = []
    list_tag: str | None = None

    def flush() -> None:
        nonlocal list_tag
        if para:
            out.append("<p>" + _inline(" ".join(para), resolve) + "</p>")
            para.clear()
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for raw in strip_front_matter(source).splitlines():
        line = raw.strip()
        heading = re.match(r"^(#{1,4})\s+(.*)$", line)
        item = re.match(r"^(?:([-*])|(\d+)[.)])\s+(.*)$", line)
        if not line:
            flush()
        elif heading:
            flush()
            level = len(heading.group(1)) + 1
            out.append(f"<h{level}>{_inline(heading.group(2), resolve)}</h{level}>")
        elif item:
            tag = "ul" if item.group(1) else "ol"
            if para or list_tag != tag:
                flush()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_inline(item.group(3), resolve)}</li>")
        else:
            if list_tag:
                flush()
            para.append(line)
    flush()
    return "\n".join(out)
