"""Entry point of ``python -m media``."""

from media.cli import main

raise SystemExit(main())
