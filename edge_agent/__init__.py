"""The agent on every loudspeaker and kiosk: verifies manifests, caches media, plays on time."""

AGENT_VERSION = "0.1.0"
