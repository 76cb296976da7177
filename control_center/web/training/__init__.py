"""Officer self-study, quiz, report and forum pages (under /monitor/training)."""
