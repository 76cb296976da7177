"""Feedback categories belong to units (security finding 5): an officer changes only those of
their own subtree, up to a cap per unit; kiosks offer their unit's and its ancestors'; and a
kiosk manifest with the most categories and answers stays under the size limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from control_center.feedback.categories import MAX_PER_KIOSK, MAX_PER_UNIT
from control_center.feedback.manifest import ANSWER_CHARS, MAX_ANSWERS
from control_center.services.manifests import seal_manifest
from protocol.codec import MAX_PAYLOAD_BYTES
from protocol.feedback import FeedbackAnswer, FeedbackCategory
from protocol.signing import Signer
from tests.feedback.rig import FeedbackRig


def _category(code: str, **more: object) -> dict[str, object]:
    return {"code": code, "name_vi": f"Danh mục {code}", "name_en": f"Category {code}", **more}


@pytest.mark.integration
def test_an_officer_changes_only_their_subtree_categories_up_to_the_cap(
        rig: FeedbackRig) -> None:
    province = rig.unit("tinh-c", "province")
    commune_a = rig.unit("xa-ca", "commune", province)
    commune_b = rig.unit("xa-cb", "commune", province)
    for code, unit in (("tinh-rieng", province), ("xa-b-rieng", commune_b)):
        r = rig.api.put("/api/v1/feedback/categories", json=_category(code, unit_id=unit["id"]))
        assert r.status_code == 200 and r.json()["unit_id"] == unit["id"], r.text
    kiosk = rig.start_kiosk(commune_a, "kiosk-ca", None)
    officer = rig.user("pa_xa_ca", "feedback_officer", commune_a)

    for code in ("tinh-rieng", "xa-b-rieng", "road"):  # the province's, B's, the seeded top's
        refused = officer.put("/api/v1/feedback/categories", json=_category(code))
        assert refused.status_code == 403, refused.text
        assert "outside your subtree" in refused.json()["detail"]
    moved = officer.put("/api/v1/feedback/categories",
                        json=_category("xa-a-1", unit_id=commune_b["id"]))
    assert moved.status_code == 403, moved.text
    mine = officer.put("/api/v1/feedback/categories", json=_category("xa-a-1"))
    assert mine.status_code == 200 and mine.json()["unit_id"] == commune_a["id"], mine.text

    # A's kiosk offers the top's, the province's and A's own categories, not B's
    kiosk.wait_manifest(lambda a: a.manifest is not None and "xa-a-1" in {
        c.code for c in a.manifest.feedback_categories}, 20, "A's new category")
    assert kiosk.agent.manifest is not None
    offered = {c.code for c in kiosk.agent.manifest.feedback_categories}
    assert {"road", "tinh-rieng", "xa-a-1"} <= offered and "xa-b-rieng" not in offered

    for n in range(2, MAX_PER_UNIT + 1):
        r = officer.put("/api/v1/feedback/categories", json=_category(f"xa-a-{n}"))
        assert r.status_code == 200, r.text
    over = officer.put("/api/v1/feedback/categories", json=_category("xa-a-over"))
    assert over.status_code == 409, over.text
    assert f"{MAX_PER_UNIT}" in over.json()["detail"] and "tối đa" in over.json()["detail"]
    # changing an existing one is still allowed at the cap
    assert officer.put("/api/v1/feedback/categories",
                       json=_category("xa-a-1", active=False)).status_code == 200


def test_a_kiosk_manifest_with_the_most_categories_and_answers_fits() -> None:
    wide = "😀"  # 4 bytes in UTF-8: the widest character a name or answer can hold
    categories = [FeedbackCategory(code=f"c{n:02d}-" + "x" * 36, name_vi=wide * 100,
                                   name_en=wide * 100) for n in range(MAX_PER_KIOSK)]
    answers = [FeedbackAnswer(ref_code=f"ABCD-EFGH-J{n:03d}", category="x" * 40,
                              question=wide * 300, answer=wide * ANSWER_CHARS,
                              answered_at=datetime(2026, 1, 1, tzinfo=UTC), unit_name=wide * 200)
               for n in range(MAX_ANSWERS)]
    body, _ = seal_manifest(Signer(Ed25519PrivateKey.generate()), device_id="kiosk-1",
                            version=1, issued_at=datetime(2026, 1, 1, tzinfo=UTC), items=(),
                            answers=answers, categories=categories)
    assert len(body) <= MAX_PAYLOAD_BYTES, f"{len(body)} bytes > {MAX_PAYLOAD_BYTES}"
