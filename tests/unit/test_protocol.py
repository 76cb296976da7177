"""Round trips and refusals for every protocol v1 message type."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol import codec, events, manifest, topics
from protocol.base import Priority
from protocol.errors import MalformedMessage, SignatureInvalid, TopicError, UnsupportedVersion
from protocol.signing import Signer, Verifier, public_key_b64, public_key_from_b64

T0 = datetime(2026, 9, 2, 10, 30, tzinfo=UTC)
SHA = "ab" * 32


def _item(priority: Priority = Priority.NORMAL) -> manifest.PlayItem:
    return manifest.PlayItem(
        item_id="s1:20260902T103000Z",
        bulletin_id=7,
        title="Thông báo lịch tiêm chủng",
        priority=priority,
        start_at=T0,
        content=manifest.AudioContent(
            sha256=SHA, url="http://cc/api/v1/media/" + SHA, size=1000, duration_ms=2500
        ),
    )


def _manifest(version: int = 3) -> manifest.Manifest:
    return manifest.Manifest(device_id="loa-01", version=version, issued_at=T0, items=(_item(),))


ALL_MESSAGES = [
    _manifest(),
    manifest.Command(
        id="c1",
        device_id="loa-01",
        issued_at=T0,
        expires_at=T0 + timedelta(minutes=5),
        action=manifest.PlayNow(item=_item(Priority.EMERGENCY)),
    ),
    manifest.Command(
        id="c2",
        device_id="loa-01",
        issued_at=T0,
        expires_at=T0,
        action=manifest.SetVolume(level=70),
    ),
    manifest.Command(
        id="c3", device_id="loa-01", issued_at=T0, expires_at=T0, action=manifest.StopPlayback()
    ),
    manifest.Command(
        id="c4", device_id="loa-01", issued_at=T0, expires_at=T0,
        action=manifest.MoveBroker(url="mqtts://b2.example.vn:8883", password="p" * 24),
    ),
    manifest.Command(
        id="c5", device_id="loa-01", issued_at=T0, expires_at=T0 + timedelta(hours=2),
        action=manifest.LiveCapture(stream_id="ab" * 16, url="https://tt.example.vn/api/v1/live/"
                                    + "ab" * 16, token="t" * 32, until=T0 + timedelta(hours=2)),
    ),
    events.Status(device_id="loa-01", online=True, at=T0, agent_version="0.1", manifest_version=3),
    events.ManifestAccepted(event_id="e" * 32, device_id="loa-01", at=T0, version=3),
    events.MessageRejected(event_id="e" * 32, device_id="d", at=T0, channel="manifest", reason="x"),
    events.MediaReady(event_id="e" * 32, device_id="d", at=T0, sha256=SHA, size=5, resumed_from=2),
    events.MediaFailed(event_id="e" * 32, device_id="d", at=T0, sha256=SHA, reason="404"),
    events.PlayStarted(
        event_id="e" * 32,
        device_id="d",
        at=T0,
        item_id="i",
        bulletin_id=1,
        priority=Priority.NORMAL,
        scheduled_at=T0,
        started_at=T0,
    ),
    events.PlayCompleted(
        event_id="e" * 32,
        device_id="d",
        at=T0,
        item_id="i",
        bulletin_id=1,
        priority=Priority.NORMAL,
        scheduled_at=T0,
        started_at=T0,
        ended_at=T0,
    ),
    events.PlayInterrupted(
        event_id="e" * 32,
        device_id="d",
        at=T0,
        item_id="i",
        bulletin_id=1,
        priority=Priority.NORMAL,
        scheduled_at=T0,
        started_at=T0,
        ended_at=T0,
        reason="emergency",
    ),
    events.PlayFailed(
        event_id="e" * 32,
        device_id="d",
        at=T0,
        item_id="i",
        bulletin_id=1,
        priority=Priority.NORMAL,
        scheduled_at=T0,
        reason="media not cached",
    ),
    events.PlayShown(event_id="e" * 32, device_id="kiosk-1", at=T0, item_id="i", bulletin_id=1,
                     priority=Priority.NORMAL, scheduled_at=T0, shown_at=T0),
    events.CommandAck(
        event_id="e" * 32,
        device_id="d",
        at=T0,
        command_id="c1",
        outcome=events.CommandOutcome.EXPIRED,
    ),
]


def test_a_text_notice_s_end_is_left_out_when_unset_and_kept_when_set() -> None:
    plain = manifest.TextContent(text="Họp dân")
    assert "ends_at" not in plain.model_dump(mode="json")  # older agents still parse it
    shown = manifest.TextContent(text="Họp dân", ends_at=T0 + timedelta(hours=2))
    item = manifest.PlayItem(item_id="i", bulletin_id=1, title="t", start_at=T0, content=shown)
    back = manifest.PlayItem.model_validate_json(item.model_dump_json())
    assert isinstance(back.content, manifest.TextContent)
    assert back.content.ends_at == T0 + timedelta(hours=2)


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(message: object) -> None:
    raw = codec.encode(message)  # type: ignore[arg-type]
    if isinstance(message, manifest.Manifest):
        back: object = codec.decode_manifest(raw)
    elif isinstance(message, manifest.Command):
        back = codec.decode_command(raw)
    elif isinstance(message, events.Status):
        back = codec.decode_status(raw)
    else:
        back = codec.decode_event(raw)
    assert back == message
    assert type(back) is type(message)


def test_instants_are_normalised_to_utc_and_naive_ones_refused() -> None:
    ict = timezone(timedelta(hours=7))
    item = _item().model_copy(update={"start_at": datetime(2026, 9, 2, 17, 30, tzinfo=ict)})
    back = codec.decode_manifest(codec.encode(_manifest().model_copy(update={"items": (item,)})))
    assert back.items[0].start_at == T0
    assert back.items[0].start_at.utcoffset() == timedelta(0)
    data = json.loads(codec.encode(_manifest()))
    data["items"][0]["start_at"] = "2026-09-02T10:30:00"
    with pytest.raises(MalformedMessage, match="timezone"):
        codec.decode_manifest(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("raw", "error", "text"),
    [
        (b"\xff\xfe", MalformedMessage, "not JSON"),
        (b"[1,2]", MalformedMessage, "not a JSON object"),
        (b'{"v": 2, "type": "manifest"}', UnsupportedVersion, "schema version 2"),
        (b'{"v": 1, "type": "manifest"}', MalformedMessage, "device_id"),
        (b'{"v": 1, "type": "manifest", "device_id": "loa\\u0000"}', MalformedMessage, "NUL"),
    ],
)
def test_bad_payloads_are_refused_with_a_reason(raw: bytes, error: type, text: str) -> None:
    with pytest.raises(error, match=text):
        codec.decode_manifest(raw)


def test_a_nul_deep_in_an_event_is_refused_but_an_escaped_backslash_is_text() -> None:
    data = json.loads(codec.encode(events.MessageRejected(
        event_id="e" * 32, device_id="d", at=T0, channel="manifest", reason="x")))
    data["reason"] = "x\x00y"
    with pytest.raises(MalformedMessage, match="NUL"):
        codec.decode_event(json.dumps(data).encode())
    data["reason"] = "a\\u0000 b"  # a backslash, then 'u0000': ordinary text
    assert codec.decode_event(json.dumps(data).encode()).reason == "a\\u0000 b"


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(MalformedMessage):
        codec.decode_event(b'{"v":1,"type":"play_teleported","event_id":"xxxxxxxx"}')


def test_signed_envelope_verifies_and_tampering_is_detected() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    verifier = Verifier([public_key_from_b64(public_key_b64(signer.public_key))])
    sealed = signer.seal(_manifest())
    assert verifier.open_manifest(sealed) == _manifest()

    env = json.loads(sealed)
    env["body"] = env["body"].replace('"version":3', '"version":4')
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verifier.open(json.dumps(env).encode())
    env = json.loads(sealed)
    del env["sig"]
    with pytest.raises(SignatureInvalid, match="missing signature"):
        verifier.open(json.dumps(env).encode())


def test_envelope_from_an_unknown_key_is_refused() -> None:
    forger = Signer(Ed25519PrivateKey.generate())
    verifier = Verifier([Ed25519PrivateKey.generate().public_key()])
    with pytest.raises(SignatureInvalid, match="unknown key"):
        verifier.open(forger.seal(_manifest()))
    env = json.loads(forger.seal(_manifest()))
    env["kid"] = list(verifier._keys)[0]  # claims the trusted key id, signed by another
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verifier.open(json.dumps(env).encode())


def test_topics_round_trip_and_refuse_bad_ids() -> None:
    topic = topics.device_topic("loa-01", topics.Channel.EVENT)
    assert topic == "tt/v1/dev/loa-01/event"
    assert topics.parse_topic(topic) == topics.ParsedTopic("loa-01", topics.Channel.EVENT)
    assert topics.fleet_subscription(topics.Channel.STATUS) == "tt/v1/dev/+/status"
    for bad in ["", "a/b", "+", "#", "Loa", "x" * 64, "center"]:
        with pytest.raises(TopicError):
            topics.validate_device_id(bad)
    with pytest.raises(TopicError):
        topics.parse_topic("tt/v1/dev/loa-01/secrets")


@pytest.mark.parametrize("decode", [codec.decode_event, codec.decode_status,
                                    codec.decode_telemetry, codec.decode_manifest])
def test_deeply_nested_json_is_malformed_not_a_crash(decode) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedMessage, match="nested too deeply"):
        decode(b"[" * 100_000)


def test_deeply_nested_envelope_is_malformed_not_a_crash() -> None:
    verifier = Verifier([Ed25519PrivateKey.generate().public_key()])
    with pytest.raises(MalformedMessage, match="not JSON"):
        verifier.open_manifest(b'{"a":' * 40_000)


@pytest.mark.parametrize(("payload", "reason"), [
    (b'{"v":1,"type":"x","n":' + b"9" * 5000 + b"}", "out of range"),
    (b'{"v":1,"type":"x","n":9223372036854775808}', "out of range"),
    (b'{"v":1,"type":"x","n":NaN}', "not a JSON number"),
    (b'{"v":1,"type":"x","s":"\\ud800"}', "lone UTF-16 surrogate"),
], ids=["5000-digits", "int64+1", "nan", "lone-surrogate"])
def test_values_no_database_can_hold_are_malformed(payload: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        codec.decode_event(payload)


def test_a_health_sample_beyond_64_bits_is_refused_on_the_fast_path() -> None:
    report = {"type": "health", "v": 1, "device_id": "loa-1", "samples": [
        {"sample_id": "abcdefgh", "at": "2026-12-05T00:00:00Z", "cache_bytes": 2**63}]}
    with pytest.raises(MalformedMessage, match="out of range"):
        codec.decode_telemetry(json.dumps(report).encode())
    report["samples"][0]["cache_bytes"] = 2**63 - 1  # type: ignore[index]
    assert codec.decode_telemetry(json.dumps(report).encode()).samples[0].cache_bytes == 2**63 - 1


def test_a_huge_integer_in_an_envelope_is_malformed() -> None:
    verifier = Verifier([Ed25519PrivateKey.generate().public_key()])
    with pytest.raises(MalformedMessage, match="not JSON"):
        verifier.open_manifest(b'{"v":' + b"1" * 5000 + b"}")


@pytest.mark.parametrize("version", [b"true", b"1.0"])
def test_an_envelope_version_must_be_the_integer_one(version: bytes) -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    verifier = Verifier([signer.public_key])
    sealed = signer.seal(manifest.Manifest(device_id="loa-1", version=1,
                                           issued_at=datetime.now(UTC)))
    assert verifier.open_manifest(sealed).version == 1
    forged = sealed.replace(b'"v":1', b'"v":' + version, 1)
    assert forged != sealed
    with pytest.raises(UnsupportedVersion):
        verifier.open_manifest(forged)
