"""How the center hands out a stored file: shown in place (a picture or sound a page plays) or
saved (anything else), always under a plain name of its hash (see ``web.headers`` for the
``nosniff`` and ``sandbox`` policy every such response carries)."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Literal

from protocol.lesson_content import shown_inline


@dataclass(frozen=True, slots=True)
class Disposition:
    kind: Literal["inline", "attachment"]
    filename: str


def disposition(stem: str, mime: str) -> Disposition:
    """Inline for pictures and sounds, attachment for the rest; ``stem`` is a hash, so the
    name needs no quoting."""
    ext = mimetypes.guess_extension(mime.split(";", 1)[0].strip()) or ".bin"
    return Disposition("inline" if shown_inline(mime) else "attachment", stem + ext)
