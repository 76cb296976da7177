"""Audio bulletins across centers: the province fetches the central center's recording by
hash, processes it with its own media intake, and only then takes the bulletin; its
loudspeaker plays the province's own delivery rendition. A recording whose bytes do not match
its hash is refused with the reason, which the central center shows as ``failed``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.center.helpers import audio_bulletin, ok
from tests.federation.conftest import Site, link
from tests.support.audio import make_tone
from tests.support.waiting import poll

pytestmark = pytest.mark.integration


def _sent(central: Site, bulletin_id: int) -> dict[str, Any]:
    rows = ok(central.api.get("/api/v1/federation/bulletins", params={"direction": "out"}))
    (row,) = [r for r in rows["items"] if r["bulletin_id"] == bulletin_id]
    return dict(row)


def _received(province: Site, state: str) -> list[dict[str, Any]]:
    rows = ok(province.api.get("/api/v1/federation/bulletins", params={"direction": "in"}))
    return [r for r in rows["items"] if r["state"] == state]


def _delivery(site: Site, sha256: str) -> str:
    return str(ok(site.api.get(f"/api/v1/media/{sha256}/info"))["delivery"]["sha256"])


def test_audio_bulletins_cross_and_a_bad_hash_is_refused(
        centers: tuple[Site, Site], tmp_path: Path) -> None:
    central, province = centers
    fed = link(central, province)
    commune = province.unit("xa-x1", "commune", fed.province_unit, name="Xã X1")
    speaker = province.speaker(commune, "loa-x1")
    peer_id = fed.peer_at_central["id"]

    # an audio emergency: fetched, processed at the province, played on its loudspeaker
    alarm = audio_bulletin(central.api, make_tone(tmp_path / "alarm.wav", 2.0, 660),
                           priority="emergency")
    ok(central.api.post("/api/v1/federation/bulletins", json={
        "bulletin_id": alarm["id"], "peer_ids": [peer_id], "valid_minutes": 30}), 201)
    assert speaker.sink.wait_for(lambda r: any(x.completed for x in r), 60), \
        "the central audio emergency did not play on the province's loudspeaker"
    played = next(x for x in speaker.sink.records if x.completed)
    assert played.file_sha256 == _delivery(province, alarm["media_sha256"]), \
        "the loudspeaker did not play the province's own rendition of the central recording"
    poll(lambda: _sent(central, alarm["id"]), lambda row: row["state"] == "emergency", 30,
         "the province's report of the audio emergency")

    # an audio normal bulletin waits in the inbox as an audio bulletin; accepted, it plays
    notice = audio_bulletin(central.api, make_tone(tmp_path / "notice.wav", 1.5, 440))
    ok(central.api.post("/api/v1/federation/bulletins", json={
        "bulletin_id": notice["id"], "peer_ids": [peer_id]}), 201)
    (inbox,) = poll(lambda: _received(province, "inbox"), bool, 60,
                    "the audio bulletin in the province's inbox")
    local = ok(province.api.get(f"/api/v1/bulletins/{inbox['bulletin_id']}"))
    assert (local["kind"], local["media_sha256"], local["status"]) == (
        "audio", notice["media_sha256"], "approved")
    start = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
    ok(province.api.post(f"/api/v1/federation/bulletins/{inbox['id']}/accept",
                         json={"slot": {"start_at": start.isoformat()}}), 200)
    rendition = _delivery(province, notice["media_sha256"])
    assert speaker.sink.wait_for(
        lambda r: any(x.completed and x.file_sha256 == rendition for x in r), 60), \
        "the accepted audio bulletin did not play on the province's loudspeaker"
    poll(lambda: _sent(central, notice["id"]), lambda row: row["state"] == "scheduled", 30,
         "the acceptance reported to the central center")

    # a recording whose bytes no longer match its hash (corrupted on the central disk)
    spoiled = audio_bulletin(central.api, make_tone(tmp_path / "spoiled.wav", 1.0, 550))
    stored = central.center.settings.media_dir / spoiled["media_sha256"]
    stored.write_bytes(bytes(reversed(stored.read_bytes())))
    ok(central.api.post("/api/v1/federation/bulletins", json={
        "bulletin_id": spoiled["id"], "peer_ids": [peer_id]}), 201)
    row = poll(lambda: _sent(central, spoiled["id"]), lambda row: row["state"] == "failed", 60,
               "the refusal of the corrupted recording")
    assert "does not match" in row["reason"], row
    assert _received(province, "inbox") == []  # nothing was made of it at the province
    info = province.api.get(f"/api/v1/media/{spoiled['media_sha256']}/info")
    assert info.status_code == 404, info.text
