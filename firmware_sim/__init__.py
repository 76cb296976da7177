"""Simulated Raspberry-Pi hardware, fleets and local infrastructure for development and tests."""
