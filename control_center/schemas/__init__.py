"""Pydantic request/response schemas of the HTTP API (kept apart from the SQL models)."""
