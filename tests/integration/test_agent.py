"""The edge agent against a real broker, with this test acting as the signing center.

Media is served by a real HTTP server with Range support; the agent runs with simulated
hardware whose sink records the real start instant of every play.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.base import Priority
from protocol.codec import encode
from protocol.events import MessageRejected, PlayCompleted, PlayInterrupted, PlayStarted
from protocol.manifest import Manifest
from protocol.signing import Signer
from protocol.topics import Channel, device_topic
from tests.integration.agent_rig import DEVICE, Rig, item

pytestmark = pytest.mark.integration


def test_plays_at_the_instant_and_reports_the_play(rig: Rig) -> None:
    start = datetime.now(UTC) + timedelta(seconds=2)
    rig.publish_manifest(1, (item(rig, "short", start),))
    assert rig.sink.wait_for(lambda r: len(r) == 1, timeout=10)
    record = rig.sink.records[0]
    assert abs(record.started_at - start.timestamp()) < 0.1
    assert record.completed and record.file_sha256 == rig.media["short"].sha256
    done = rig.wait_event(lambda e: isinstance(e, PlayCompleted))
    started = rig.wait_event(lambda e: isinstance(e, PlayStarted))
    assert done.item_id == started.item_id == "short-1"
    assert rig.agent.outbox.wait_drained(5)


def test_forged_manifest_is_refused_and_the_last_good_one_still_plays(rig: Rig) -> None:
    start = datetime.now(UTC) + timedelta(seconds=3)
    rig.publish_manifest(1, (item(rig, "short", start),))
    rig.wait_event(lambda e: getattr(e, "type", "") == "manifest_accepted")
    forger = Signer(Ed25519PrivateKey.generate())
    # Sent with the center's real broker credentials, but not the center's key.
    rig.publish_manifest(
        2, (item(rig, "alert", start - timedelta(seconds=1), Priority.EMERGENCY),), forger
    )
    rejected = rig.wait_event(lambda e: isinstance(e, MessageRejected))
    assert "unknown key" in rejected.reason
    assert rig.sink.wait_for(lambda r: len(r) == 1, timeout=10)
    assert rig.sink.records[0].item_id == "short-1"
    assert rig.agent.manifest is not None and rig.agent.manifest.version == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00garbage", "not JSON"),
        (b'{"v":1,"alg":"ed25519","kid":"x","body":"{}"}', "missing signature"),
    ],
)
def test_malformed_manifest_is_logged_and_dropped(rig: Rig, payload: bytes, reason: str) -> None:
    rig.publish_manifest(1, ())
    rig.wait_event(lambda e: getattr(e, "type", "") == "manifest_accepted")
    rig.center.publish(device_topic(DEVICE, Channel.MANIFEST), payload, retain=True)
    rejected = rig.wait_event(lambda e: isinstance(e, MessageRejected))
    assert reason in rejected.reason
    # still alive and still taking good manifests
    rig.publish_manifest(2, ())
    rig.wait_event(lambda e: getattr(e, "type", "") == "manifest_accepted" and e.version == 2)


def test_wrong_schema_version_and_stale_version_are_refused(rig: Rig) -> None:
    rig.publish_manifest(5, ())
    rig.wait_event(lambda e: getattr(e, "type", "") == "manifest_accepted")
    body = json.loads(encode(Manifest(device_id=DEVICE, version=6, issued_at=datetime.now(UTC))))
    body["v"] = 2
    forged_v2 = json.loads(
        rig.signer.seal(Manifest(device_id=DEVICE, version=6, issued_at=datetime.now(UTC)))
    )
    # re-sign a v2 body with the real key: the signature is good, the schema is not
    v2_body = json.dumps(body, separators=(",", ":"))
    forged_v2["body"] = v2_body
    import base64

    forged_v2["sig"] = base64.b64encode(rig.signer._current[0].sign(v2_body.encode())).decode()  # noqa: SLF001
    rig.center.publish(
        device_topic(DEVICE, Channel.MANIFEST), json.dumps(forged_v2).encode(), retain=True
    )
    rejected = rig.wait_event(lambda e: isinstance(e, MessageRejected))
    assert "schema version 2" in rejected.reason
    rig.publish_manifest(4, ())
    stale = rig.wait_event(lambda e: isinstance(e, MessageRejected) and "stale" in e.reason)
    assert stale.version == 4
    assert rig.agent.manifest is not None and rig.agent.manifest.version == 5


def test_emergency_interrupts_a_normal_play(rig: Rig) -> None:
    now = datetime.now(UTC)
    normal = item(rig, "long", now + timedelta(seconds=2), Priority.NORMAL, n=1)
    emergency = item(rig, "alert", now + timedelta(seconds=4), Priority.EMERGENCY, n=2)
    rig.publish_manifest(1, (normal, emergency))
    assert rig.sink.wait_for(lambda r: len(r) == 2, timeout=15)
    first, second = rig.sink.records
    assert (first.item_id, first.completed) == (normal.item_id, False)
    assert (second.item_id, second.completed) == (emergency.item_id, True)
    assert abs(second.started_at - emergency.start_at.timestamp()) < 0.1
    interrupted = rig.wait_event(lambda e: isinstance(e, PlayInterrupted))
    assert interrupted.item_id == normal.item_id and "emergency" in interrupted.reason


def test_priority_item_goes_ahead_of_a_waiting_normal_item(rig: Rig) -> None:
    now = datetime.now(UTC)
    running = item(rig, "long", now + timedelta(seconds=2), Priority.NORMAL, n=1)
    waiting_normal = item(rig, "short", now + timedelta(seconds=3), Priority.NORMAL, n=2)
    waiting_priority = item(rig, "alert", now + timedelta(seconds=4), Priority.PRIORITY, n=3)
    rig.publish_manifest(1, (running, waiting_normal, waiting_priority))
    assert rig.sink.wait_for(lambda r: len(r) == 3, timeout=20)
    assert [r.item_id for r in rig.sink.records] == ["long-1", "alert-3", "short-2"]
    assert all(r.completed for r in rig.sink.records)
