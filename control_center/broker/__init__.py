"""The broker's device accounts, managed live by the center (docs/devices.md)."""
