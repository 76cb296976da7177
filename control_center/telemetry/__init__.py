"""Telemetry at the center: health samples and play events to InfluxDB, presence and alerts.

``lineproto`` formats points, ``spill`` and ``writer`` deliver them to InfluxDB (batched,
buffered on disk while it is away), ``monitor`` keeps presence, silence and alerts in SQL,
``service`` is what the MQTT bridge calls. See docs/telemetry.md.
"""
