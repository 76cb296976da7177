"""Exceptions of the edge agent; third-party errors are converted where they enter."""


class AgentError(Exception):
    """Base class for every agent failure."""


class ConfigError(AgentError):
    """The agent's configuration is missing or invalid."""


class DownloadError(AgentError):
    """Media could not be fetched or failed verification."""


class SinkError(AgentError):
    """The audio output failed to play a file."""


class MicrophoneError(AgentError):
    """The microphone could not be opened or stopped delivering."""
