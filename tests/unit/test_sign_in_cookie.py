"""The pages' sign-in cookie value: a credential, and the officer picked on the training pages
signed onto it (control_center.security.SignInCookie)."""

from __future__ import annotations

from control_center.security import SignInCookie, cookie_credential

KEY = "api-token-for-the-tests-0123456789"


def test_a_bare_credential_round_trips() -> None:
    value = SignInCookie("tok").encode(key=KEY)
    assert value == "tok"
    assert SignInCookie.parse(value, key=KEY) == SignInCookie("tok")
    assert cookie_credential(value) == "tok"


def test_the_officer_round_trips_and_the_credential_stays_readable() -> None:
    value = SignInCookie("tok", 42).encode(key=KEY)
    assert value.startswith("tok.42.")
    assert SignInCookie.parse(value, key=KEY) == SignInCookie("tok", 42)
    assert cookie_credential(value) == "tok"


def test_an_edited_moved_or_foreign_officer_is_dropped() -> None:
    value = SignInCookie("tok", 42).encode(key=KEY)
    signature = value.rsplit(".", 1)[1]
    assert SignInCookie.parse(f"tok.43.{signature}", key=KEY) == SignInCookie("tok")
    assert SignInCookie.parse(f"other.42.{signature}", key=KEY) == SignInCookie("other")
    assert SignInCookie.parse(value, key="another-api-token") == SignInCookie("tok")
    for forged in ("tok.42", "tok.42.", "tok.x.y", "tok.²." + signature, "tok.42.é"):
        assert SignInCookie.parse(forged, key=KEY) == SignInCookie("tok")
