"""A fleet simulator for benchmarks: thousands of devices, each a real MQTT session with its
own credentials, verifying and storing manifests through the agent's own code, in a few
asyncio worker processes (``worker``), gathered by ``coordinator.Fleet``."""
