"""Exceptions raised by the protocol package."""


class ProtocolError(Exception):
    """Base class for every protocol failure."""


class MalformedMessage(ProtocolError):
    """The payload is not valid JSON or does not match the schema."""


class UnsupportedVersion(ProtocolError):
    """The payload declares a schema or envelope version this code does not speak."""


class SignatureInvalid(ProtocolError):
    """The envelope's signature is missing, malformed or does not verify."""


class TopicError(ProtocolError):
    """A topic does not follow the v1 layout or carries an invalid device id."""
