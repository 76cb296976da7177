"""CAP 1.2 (OASIS Common Alerting Protocol): alerts taken in from registered senders and the
center's emergency and priority bulletins published as CAP (docs/cap.md)."""
