"""Small API helpers for the center tests (unique codes so tests can share one center)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from firmware_sim.broker import MosquittoBroker
from tests.support.tree import add_device, add_unit
from tests.support.waiting import poll

_seq = itertools.count(1)


def uid(prefix: str) -> str:
    return f"{prefix}-{next(_seq)}"


def ok(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    expected = status or (201 if response.request.method == "POST" else 200)
    assert response.status_code == expected, f"{response.status_code}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def unit(api: httpx.Client, level: str = "commune", parent: dict[str, Any] | None = None,
         code: str | None = None) -> dict[str, Any]:
    return add_unit(api, code or uid(level), level, parent)


def device(api: httpx.Client, unit_: dict[str, Any], broker: MosquittoBroker | None = None,
           device_id: str | None = None, kind: str = "speaker") -> dict[str, Any]:
    """Register a device; with ``broker``, also create its broker user from the password."""
    return add_device(api, device_id or uid("loa"), unit_, name="Loa", kind=kind, broker=broker)


def upload(api: httpx.Client, path: Path, name: str | None = None,
           wait: bool = True) -> httpx.Response:
    """POST the file; ``wait=False`` answers 202 at once instead of waiting for processing."""
    with path.open("rb") as fh:
        return api.post("/api/v1/media", params={"wait": str(wait).lower()},
                        files={"file": (name or path.name, fh, "audio/wav")})


def wait_processed(api: httpx.Client, sha256: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll the media info until processing is over (ready or failed); return the info."""
    return poll(lambda: ok(api.get(f"/api/v1/media/{sha256}/info")),
                lambda info: info["state"] != "processing", timeout,
                f"media {sha256} to be processed")


def ready_media(api: httpx.Client, path: Path) -> dict[str, Any]:
    """Upload ``path`` and wait until it is ready; return the media info."""
    r = upload(api, path)
    assert r.status_code in (200, 201, 202), f"{r.status_code}: {r.text}"
    info = wait_processed(api, r.json()["sha256"])
    assert info["state"] == "ready", info
    return info


def audio_bulletin(api: httpx.Client, wav: Path, priority: str = "normal") -> dict[str, Any]:
    """An audio bulletin for ``wav`` once its media is ready; ``["delivery"]`` is added (the
    rendition manifests reference)."""
    media = ready_media(api, wav)
    bulletin = ok(api.post("/api/v1/bulletins", json={
        "title": "Thông báo tiêm chủng", "priority": priority, "media_sha256": media["sha256"],
    }))
    bulletin["delivery"] = media["delivery"]
    return bulletin


def in_minutes(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def text_voice(api: httpx.Client, bulletin_id: int, timeout: float = 30.0) -> str:
    """The delivery hash of an approved text bulletin's voice, once the center has made it
    (loudspeakers get the bulletin only then)."""
    made = poll(lambda: ok(api.get(f"/api/v1/bulletins/{bulletin_id}")),
                lambda b: b["voice_sha256"] or b["voice_error"], timeout, "the bulletin's voice")
    assert made["voice_error"] is None, made
    return str(ok(api.get(f"/api/v1/media/{made['voice_sha256']}/info"))["delivery"]["sha256"])
