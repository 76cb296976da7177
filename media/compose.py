"""Compose a bulletin: optional intro/outro signature tune, speech segments, silences, crossfades.

Parts are short (a tune, spoken paragraphs), so pydub holds them in memory; the result is a
WAV that goes through the normal pipeline like any upload.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment  # type: ignore[import-untyped]
from pydub.exceptions import CouldntDecodeError  # type: ignore[import-untyped]

from media.errors import CorruptMedia, EmptyMedia

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000


@dataclass(frozen=True, slots=True)
class Silence:
    """A pause between speech segments."""

    ms: int


Part = Path | Silence


def compose(
    parts: Sequence[Part], out: Path, *, intro: Path | None = None, outro: Path | None = None,
    crossfade_ms: int = 500,
) -> int:
    """Write the composition to ``out`` (WAV, mono 48 kHz); return its duration in ms.

    The intro fades out under the first part and the outro fades in over the last one.
    """
    if not parts:
        raise EmptyMedia("a bulletin needs at least one speech segment")
    body = AudioSegment.empty()
    for part in parts:
        body += (AudioSegment.silent(duration=part.ms, frame_rate=SAMPLE_RATE)
                 if isinstance(part, Silence) else _load(part))
    if len(body) == 0:
        raise EmptyMedia("the speech segments last no time at all")
    if intro is not None:
        tune = _load(intro)
        body = tune.append(body, crossfade=_fade(crossfade_ms, tune, body))
    if outro is not None:
        tune = _load(outro)
        body = body.append(tune, crossfade=_fade(crossfade_ms, body, tune))
    tmp = out.with_name(f".{out.name}.part")
    try:
        with tmp.open("wb") as fh:  # pydub leaves files it opens itself unclosed
            body.export(fh, format="wav")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("media: composed %d parts into %s (%d ms)", len(parts), out.name, len(body))
    return len(body)


def _load(path: Path) -> AudioSegment:
    try:
        with path.open("rb") as fh:
            segment = AudioSegment.from_file(fh)
    except (CouldntDecodeError, IndexError, OSError) as exc:
        raise CorruptMedia(f"{path.name} cannot be read as audio") from exc
    return segment.set_channels(1).set_frame_rate(SAMPLE_RATE).set_sample_width(2)


def _fade(wanted_ms: int, a: AudioSegment, b: AudioSegment) -> int:
    return max(0, min(wanted_ms, len(a) // 2, len(b) // 2))
