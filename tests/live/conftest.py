"""Live audio tests use the end-to-end rig (broker, center, agents)."""

from tests.e2e.conftest import stack

__all__ = ["stack"]
