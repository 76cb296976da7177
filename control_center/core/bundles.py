"""Kiosk training bundles as media: their MIME type, URL and whether a hash names one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.models import KioskPublication

BUNDLE_MIME = "application/zip"


def bundle_url(public_base_url: str, sha256: str) -> str:
    """Where agents download a bundle: the media route, by its SHA-256."""
    return f"{public_base_url}/api/v1/media/{sha256}"


def is_bundle(session: Session, *, sha256: str) -> bool:
    """True when ``sha256`` is a published training bundle (served as a zip)."""
    return session.scalar(select(KioskPublication.id).where(
        KioskPublication.bundle_sha256 == sha256).limit(1)) is not None
