"""Manifest building: content hash, ordering, size cap (no broker needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from control_center.services.manifests import content_hash, seal_manifest
from protocol.codec import MAX_PAYLOAD_BYTES
from protocol.manifest import PlayItem, TextContent
from protocol.signing import Signer, Verifier

T0 = datetime(2026, 9, 2, 23, 0, tzinfo=UTC)


def _items(n: int, text: str = "Thông báo") -> list[PlayItem]:
    return [
        PlayItem(item_id=f"s1r1-{i}", bulletin_id=1, title="Tin", start_at=T0 + timedelta(hours=i),
                 content=TextContent(text=text))
        for i in range(n)
    ]


def test_content_hash_ignores_nothing_but_version_and_issue_time() -> None:
    items = _items(3)
    assert content_hash(items) == content_hash(list(items))
    changed = [*items[:2], items[2].model_copy(update={"title": "Tin mới"})]
    assert content_hash(changed) != content_hash(items)
    assert content_hash([]) != content_hash(items)


def test_oversized_manifest_keeps_the_earliest_items() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    items = _items(60, text="Nội dung dài " * 1000)  # ~13 kB each, ~800 kB in all
    body, kept = seal_manifest(signer, device_id="loa-1", version=4, issued_at=T0, items=items)
    assert len(body) <= MAX_PAYLOAD_BYTES
    assert 0 < len(kept) < len(items)
    assert list(kept) == items[: len(kept)]
    manifest = Verifier([signer.public_key]).open_manifest(body)
    assert manifest.version == 4 and len(manifest.items) == len(kept)
