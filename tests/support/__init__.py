"""Helpers shared by the test suites (real broker clients, no fakes)."""
