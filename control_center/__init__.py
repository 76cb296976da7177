"""The control center: FastAPI API, SQL state, manifest publishing and event ingestion."""
