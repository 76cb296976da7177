"""The media exception tree: every ffmpeg/ffprobe/TTS failure is converted to one of these.

``MediaError`` > ``NotAudio``, ``CorruptMedia``, ``EmptyMedia``, ``SilentMedia``, ``TooLong``
(the refused-input classes), ``ToolMissing``, ``ProcessingFailed``, ``SpeechFailed`` and
``MediaConfigError``. Every message is meant for the person who uploaded or configured.
"""


class MediaError(Exception):
    """Base class for every media failure; the message is meant for a person."""


class NotAudio(MediaError):
    """The file is readable but holds no audio track (a picture, a video without sound...)."""


class CorruptMedia(MediaError):
    """The file cannot be read as media at all (truncated, not a media file, unknown format)."""


class EmptyMedia(MediaError):
    """The file holds an audio track that lasts no time at all."""


class SilentMedia(MediaError):
    """The audio is below the silence threshold for most of its length."""


class TooLong(MediaError):
    """The audio lasts longer than the configured cap."""


class ToolMissing(MediaError):
    """ffprobe/ffmpeg/espeak-ng (or a configured TTS command) is not installed or not on PATH."""


class ProcessingFailed(MediaError):
    """ffmpeg stopped with an error while normalising or encoding a file it could probe."""


class SpeechFailed(MediaError):
    """The text-to-speech engine failed or produced no audio."""


class MediaConfigError(MediaError):
    """A media setting (target loudness, TTS engine spec...) is unusable."""
