"""Citizen feedback at the center: intake (kiosk events, Open311), workflow, answers to kiosks."""
