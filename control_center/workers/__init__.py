"""The workers wing: long-lived loops (ingest, manifest sync, media worker, refresher) and the
runtime that builds them once and wires them together."""
