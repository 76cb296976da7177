"""The kiosk: a local touch web UI served by the agent, with offline voice input.

:class:`Kiosk` wraps a running :class:`edge_agent.agent.Agent`: it reads the agent's verified
manifest (text bulletins, answers, feedback categories) and sends submissions through the
agent's outbox (store and forward), so a citizen gets a reference code even offline.
"""

from edge_agent.kiosk.config import KioskConfig
from edge_agent.kiosk.desk import FeedbackDesk, RateLimited, Submission
from edge_agent.kiosk.server import Kiosk
from edge_agent.kiosk.voice import VoiceInput, VoiceState

__all__ = ["FeedbackDesk", "Kiosk", "KioskConfig", "RateLimited", "Submission", "VoiceInput",
           "VoiceState"]
