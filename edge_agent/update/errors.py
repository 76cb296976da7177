"""The update's one exception: its message is the ``reason`` of a ``failed`` report."""

from __future__ import annotations

from edge_agent.errors import AgentError


class UpdateError(AgentError):
    """An update cannot go on (download, checksum, signature, install); nothing was switched."""
