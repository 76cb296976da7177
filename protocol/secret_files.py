"""Secrets on disk, on either side (the center's keys and tokens, a device's credentials)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_secret_file(path: Path, data: bytes) -> None:
    """Write ``path`` atomically, readable by its owner only from the first byte on.

    A fresh temporary file beside ``path`` is created with ``O_CREAT | O_EXCL`` and mode 0600
    (never an existing file, never chmodded afterwards), synced, then renamed over ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
