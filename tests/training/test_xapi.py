"""xAPI export: statements for attempts (with result and score) and lessons, checked against
the xAPI 1.0.3 statement structure (https://github.com/adlnet/xAPI-Spec, Data section)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.center import CenterHandle
from tests.training.helpers import as_officer, import_sample, officer, ok, unit

pytestmark = pytest.mark.integration

IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
DURATION = re.compile(r"^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$")
STATEMENT_KEYS = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored",
                  "authority", "version", "attachments"}


def _iri(value: Any, where: str) -> None:
    assert isinstance(value, str), f"{where}: an IRI is a string"
    parts = urlsplit(value)
    assert parts.scheme and (parts.netloc or parts.path), f"{where}: {value!r} is not an IRI"
    assert " " not in value, f"{where}: {value!r} has a space"


def _language_map(value: Any, where: str) -> None:
    assert isinstance(value, dict) and value, f"{where}: a non-empty language map"
    for tag, text in value.items():
        assert LANG_TAG.match(tag), f"{where}: {tag!r} is not an RFC 5646 tag"
        assert isinstance(text, str)


def validate_statement(s: dict[str, Any]) -> None:
    """Raise AssertionError where ``s`` breaks the xAPI 1.0.3 statement structure."""
    assert set(s) <= STATEMENT_KEYS, f"unknown properties {set(s) - STATEMENT_KEYS}"
    assert uuid.UUID(s["id"]).version in (1, 3, 4, 5)
    actor = s["actor"]
    assert actor.get("objectType", "Agent") == "Agent"
    assert [k for k in IFIS if k in actor] == ["account"], "exactly one inverse functional id"
    _iri(actor["account"]["homePage"], "actor.account.homePage")
    assert isinstance(actor["account"]["name"], str) and actor["account"]["name"]
    _iri(s["verb"]["id"], "verb.id")
    _language_map(s["verb"]["display"], "verb.display")
    obj = s["object"]
    assert obj.get("objectType", "Activity") == "Activity"
    _iri(obj["id"], "object.id")
    _language_map(obj["definition"]["name"], "object.definition.name")
    _iri(obj["definition"]["type"], "object.definition.type")
    if "result" in s:
        result = s["result"]
        assert set(result) <= {"score", "success", "completion", "response", "duration",
                               "extensions"}
        score = result["score"]
        assert -1 <= score["scaled"] <= 1
        assert score["min"] <= score["raw"] <= score["max"] and score["min"] < score["max"]
        assert isinstance(result["success"], bool) and isinstance(result["completion"], bool)
        assert DURATION.match(result["duration"]), result["duration"]
    for parent in s.get("context", {}).get("contextActivities", {}).get("parent", []):
        _iri(parent["id"], "context.contextActivities.parent.id")
    assert s["context"]["language"] and LANG_TAG.match(s["context"]["language"])
    stamp = datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00"))
    assert stamp.tzinfo is not None
    assert s["version"].startswith("1.0.")


def test_validator_rejects_broken_statements() -> None:
    good = {"id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://x.vn",
                                                           "name": "CB-1"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en-US": "p"}},
            "object": {"id": "https://x.vn/q", "definition": {"name": {"vi-VN": "Q"},
                                                                "type": "http://a.b/c"}},
            "context": {"language": "vi-VN"}, "timestamp": "2026-11-28T03:00:00Z",
            "version": "1.0.3"}
    validate_statement(good)
    for broken in ({"verb": {"id": "passed", "display": {"en-US": "p"}}},
                   {"actor": {"name": "no ifi"}},
                   {"result": {"score": {"scaled": 2, "raw": 1, "min": 0, "max": 1},
                               "success": True, "completion": True, "duration": "PT1S"}}):
        with pytest.raises((AssertionError, KeyError)):
            validate_statement({**good, **broken})


def test_exported_statements_are_valid_xapi(center: CenterHandle) -> None:
    api = center.api
    province = unit(api, "province")
    other = unit(api, "province")
    o = officer(api, unit(api, "commune", province), name="Đặng Thu Trang")
    outsider = officer(api, other)
    course = import_sample(api)
    quiz_id = course["quizzes"][0]["id"]
    for who, answers in ((o, {}), (o, {"nam-cau-hoi": ["b"], "do-dai-cau": ["a"],
                                       "nhac-lai": ["a", "b"], "tin-khan-cap": ["b"]}),
                         (outsider, {})):
        attempt = ok(api.post(f"/api/v1/training/quizzes/{quiz_id}/attempts",
                              headers=as_officer(who)))
        ok(api.post(f"/api/v1/training/attempts/{attempt['id']}/submit",
                    headers=as_officer(who), json={"answers": answers}))
    body = ok(api.get("/api/v1/training/xapi/statements", params={"unit_id": province["id"]}))
    statements = body["statements"]
    assert [s["verb"]["id"].rsplit("/", 1)[1] for s in statements] == ["failed", "passed"]
    for s in statements:
        validate_statement(s)
        assert s["actor"]["account"] == {"homePage": center.base_url, "name": o["code"]}
        assert s["object"]["id"].endswith("/training/courses/viet-ban-tin/quizzes/01-kiem-tra")
    failed, passed = (s["result"] for s in statements)
    assert failed["score"] == {"scaled": 0.0, "raw": 0, "min": 0, "max": 4}
    assert passed["score"] == {"scaled": 1.0, "raw": 4, "min": 0, "max": 4}
    assert (failed["success"], passed["success"]) == (False, True)
    again = ok(api.get("/api/v1/training/xapi/statements", params={"unit_id": province["id"]}))
    assert [s["id"] for s in again["statements"]] == [s["id"] for s in statements]
    everyone = ok(api.get("/api/v1/training/xapi/statements"))["statements"]
    assert len(everyone) == 3
