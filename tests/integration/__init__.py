"""Tests against real Mosquitto, ffmpeg and HTTP servers."""
