"""The pages' sign-in cookie value is the credential alone; a cookie set while officers were
picked on the training pages (``<credential>.<officer id>.<signature>``) still reads as its
credential, the officer ignored (an officer is now the signed-in user)."""

from __future__ import annotations

from control_center.security import cookie_credential


def test_the_credential_is_the_cookie() -> None:
    assert cookie_credential("tok") == "tok"
    assert cookie_credential("") == ""


def test_an_officer_signed_onto_an_old_cookie_is_ignored() -> None:
    assert cookie_credential("tok.42.0123456789abcdef0123456789abcdef") == "tok"
    assert cookie_credential("tok.43.forged") == "tok"
