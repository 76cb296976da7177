"""The control center's exception tree; the API maps each class to an HTTP status.

Messages are written for the operator who reads them: say what is wrong and how to fix it.
"""

from __future__ import annotations


class CenterError(Exception):
    """Base class of every control-center failure."""

    status_code = 400


class ConfigError(CenterError):
    """The settings are unusable; raised at start-up, never during a request."""

    status_code = 500


class NotAuthenticated(CenterError):
    """No or a wrong bearer token."""

    status_code = 401


class Forbidden(CenterError):
    """Signed in, but the role does not allow this action."""

    status_code = 403


class NotFound(CenterError):
    """The object named in the URL does not exist."""

    status_code = 404


class InvalidInput(CenterError):
    """The request is well-formed but its content cannot be accepted."""

    status_code = 422


class FieldError(InvalidInput):
    """Bad input, naming the form field it belongs to (the console shows it beside it)."""

    def __init__(self, field: str, message: str, *, status_code: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status_code = status_code


class UnknownReference(InvalidInput):
    """The request body refers to an object (unit, device, group, media...) that does not exist."""


class Conflict(CenterError):
    """The request clashes with the current state (duplicate code, cancelled schedule...)."""

    status_code = 409


class TooManyAttempts(CenterError):
    """Too many failed sign-ins from one address or on one account: retry after a while."""

    status_code = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PayloadTooLarge(CenterError):
    status_code = 413


class UnsupportedMedia(CenterError):
    """An upload that is not audio."""

    status_code = 415


class MediaToolMissing(CenterError):
    """ffprobe is not installed on the center."""

    status_code = 503


class BrokerUnavailable(CenterError):
    """The MQTT broker is unreachable or did not acknowledge in time."""

    status_code = 503
