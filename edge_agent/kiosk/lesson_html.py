"""The lesson HTML of a training bundle, cleaned before the kiosk shows it.

The center renders lessons with its safe Markdown renderer; the kiosk still treats the HTML as
data: only the tags that renderer writes pass (headings, paragraphs, lists, emphasis, code,
links, pictures, sounds), with their few attributes; a link or picture whose target is not
relative or http(s) (``protocol.lesson_content.safe_link``) becomes its plain text, and every
other tag is dropped (script and style with their content). Relative targets such as
``media/<sha256>`` are resolved against the module's own path.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

from protocol.lesson_content import safe_link

_ATTRIBUTES: dict[str, frozenset[str]] = {
    **{tag: frozenset() for tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
                                    "li", "strong", "em", "code", "br")},
    "a": frozenset({"href"}),
    "img": frozenset({"src", "alt"}),
    "audio": frozenset({"src", "controls", "preload", "title"}),
}
_TARGET = {"a": "href", "img": "src", "audio": "src"}
_TEXT_OF = {"img": "alt", "audio": "title"}  # what a refused picture or sound leaves behind
_VOID = frozenset({"br", "img"})
_DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "iframe", "object", "embed",
                                   "svg", "math", "noscript", "textarea", "title", "head"})


class _Cleaner(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.out: list[str] = []
        self.open: list[tuple[str, bool]] = []  # (tag, written) of the elements still open
        self.skipping = 0

    def _target(self, url: str) -> str | None:
        if not safe_link(url):
            return None
        if url.lower().startswith(("http://", "https://", "/", "#")):
            return url
        return self.base + url

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self.skipping += 1
            return
        if self.skipping or tag not in _ATTRIBUTES:
            return
        values = {k: v for k, v in attrs if k in _ATTRIBUTES[tag]}
        written = True
        if tag in _TARGET:
            target = self._target(values.get(_TARGET[tag]) or "")
            if target is None:
                written = False
                if tag in _TEXT_OF:
                    self.out.append(escape(values.get(_TEXT_OF[tag]) or ""))
            else:
                values[_TARGET[tag]] = target
                if tag == "a" and target.lower().startswith(("http://", "https://")):
                    values["rel"] = "noopener noreferrer"
        if written:
            self.out.append("<" + tag + "".join(
                f" {k}" if v is None else f' {k}="{escape(v)}"' for k, v in values.items())
                + ">")
        if tag not in _VOID:
            self.open.append((tag, written))

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self.skipping = max(0, self.skipping - 1)
            return
        if self.skipping or not any(t == tag for t, _ in self.open):
            return
        while self.open:
            name, written = self.open.pop()
            if written:
                self.out.append(f"</{name}>")
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(escape(data, quote=False))

    def result(self) -> str:
        self.close()
        while self.open:
            name, written = self.open.pop()
            if written:
                self.out.append(f"</{name}>")
        return "".join(self.out)


def clean_lesson_html(html: str, *, base: str) -> str:
    """``html`` with only the lesson tags and safe targets; relative ones start at ``base``
    (``/training/<sha256>/``)."""
    cleaner = _Cleaner(base)
    cleaner.feed(html)
    return cleaner.result()
