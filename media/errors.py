"""The media exception tree: every ffmpeg/ffprobe failure is converted to one of these."""


class MediaError(Exception):
    """Base class for every media failure; the message is meant for a person."""


class NotAudio(MediaError):
    """The file is readable but holds no audio track (a picture, a video without sound...)."""


class CorruptMedia(MediaError):
    """The file cannot be read as media at all (truncated, not a media file, unknown format)."""


class EmptyMedia(MediaError):
    """The file holds an audio track that lasts no time at all."""


class ToolMissing(MediaError):
    """ffprobe/ffmpeg is not installed or not on PATH."""
