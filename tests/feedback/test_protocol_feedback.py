"""Round trips of the feedback messages, and old manifests still parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol import codec
from protocol.errors import MalformedMessage
from protocol.feedback import FeedbackAnswer, FeedbackCategory, FeedbackChannel, FeedbackSubmitted
from protocol.manifest import Manifest
from protocol.signing import Signer, Verifier

T0 = datetime(2026, 9, 2, 10, 30, tzinfo=UTC)


def _submission(**over: object) -> FeedbackSubmitted:
    fields: dict[str, object] = dict(
        event_id="f" * 32, device_id="kiosk-1", at=T0, ref_code="K7QM4Z", category="water",
        text="물이 없어요", channel=FeedbackChannel.VOICE, phone="0912345678",
        contact_consent=True,
    )
    fields.update(over)
    return FeedbackSubmitted(**fields)  # type: ignore[arg-type]


def test_submission_round_trips_as_a_device_event() -> None:
    event = _submission()
    decoded = codec.decode_event(codec.encode(event))
    assert decoded == event
    assert isinstance(decoded, FeedbackSubmitted)


def test_submission_refuses_a_bad_reference_code_and_empty_text() -> None:
    raw = json.loads(codec.encode(_submission()))
    for field, value in (("ref_code", "a b"), ("text", "")):
        with pytest.raises(MalformedMessage, match=field):
            codec.decode_event(json.dumps({**raw, field: value}).encode())


def test_manifest_with_answers_and_categories_round_trips_signed() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    manifest = Manifest(
        device_id="kiosk-1", version=2, issued_at=T0,
        answers=(FeedbackAnswer(ref_code="K7QM4Z", category="water", question="물이 없어요",
                                answer="Đội cấp nước sẽ đến vào thứ Hai.", answered_at=T0,
                                unit_name="Xã A"),),
        feedback_categories=(FeedbackCategory(code="water", name_vi="Nước sạch",
                                              name_en="Water"),),
    )
    opened = Verifier([signer.public_key]).open_manifest(signer.seal(manifest))
    assert opened == manifest


def test_a_manifest_without_the_new_fields_still_parses() -> None:
    old = {"type": "manifest", "v": 1, "device_id": "loa-1", "version": 1,
           "issued_at": "2026-09-01T09:00:00Z", "items": []}
    parsed = codec.decode_manifest(json.dumps(old).encode())
    assert parsed.answers == () and parsed.feedback_categories == ()
