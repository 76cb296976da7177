"""Protocol v1: the MQTT contract shared by the control center and the edge agents.

Every payload is a versioned pydantic model; manifests and commands travel inside a
signed envelope (Ed25519). This package imports no other project package.
"""

PROTOCOL_VERSION = 1
