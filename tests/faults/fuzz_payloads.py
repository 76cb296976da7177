"""Hypothesis strategies for scenario 9: mutations of valid MQTT payloads.

Every strategy draws a :class:`Fuzzed` payload with the kind of mutation that made it:

- ``bitflip``, ``truncate``, ``bad_utf8``, ``random``: bytes-level damage;
- ``wrong_type``, ``huge_number``, ``missing_key``, ``deep_nesting``, ``wrong_device``:
  JSON-level damage (numbers past 64 bits, past float range, past Python's 4300-digit limit,
  NaN/Infinity; nesting up to 200,000 levels);
- ``resigned``: a mutated body signed again with the center's key (a valid signature over
  content the agent must still refuse: another device's, or expired);
- ``replay``: the valid message sent again unchanged.

Signed messages that would be *accepted* are never produced (no forged manifest with a newer
version, no command the agent would carry out), so each message has one expected fate.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.signing import ALGORITHM, Verifier, key_id

OTHER_DEVICE = "loa-khac-99"
Json = Any  # JSON values of any shape, as json.loads returns them

HUGE_LITERALS = ("1" + "0" * 400, "-" + "9" * 400, "9223372036854775808", "-9223372036854775809",
                 "1e308", "1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1" * 5000, "0.0")
BAD_UTF8 = (b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80",
            b"\xe0\x80", b"\x00")
JSON_VALUES: st.SearchStrategy[Json] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@dataclass(frozen=True, slots=True)
class Fuzzed:
    payload: bytes
    kind: str


def _dumps(value: Json) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _paths(value: Json, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path to a value inside ``value`` (dict keys and list indexes)."""
    out: list[tuple[str | int, ...]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            out.append((*prefix, key))
            out += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            out.append((*prefix, index))
            out += _paths(inner, (*prefix, index))
    return out


def _set(value: Json, path: tuple[str | int, ...], new: Json) -> Json:
    """A deep copy of ``value`` with ``path`` replaced (``_DELETE`` removes it)."""
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    if new is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return copy


_DELETE = object()
_MARK = "\u0000mark\u0000"


def _pick(draw: st.DrawFn, **weights: int) -> str:
    """One name, drawn in proportion to its weight (hypothesis favours the first element of
    ``sampled_from`` and small integers; a true random draw keeps the mix as intended)."""
    names = [name for name, weight in weights.items() if weight > 0]
    return _rng(draw).choices(names, [weights[n] for n in names])[0]


def _rng(draw: st.DrawFn) -> random.Random:
    """Positions and choices spread over the whole message (not only its boundaries)."""
    return draw(st.randoms(use_true_random=True))


@st.composite
def bytes_damage(draw: st.DrawFn, base: bytes) -> Fuzzed:
    """Bit flips, truncation, invalid UTF-8 or random bytes."""
    kind = _pick(draw, bitflip=30, truncate=25, bad_utf8=25, random=20)
    rng = _rng(draw)
    if kind == "bitflip":
        data = bytearray(base)
        for bit in rng.sample(range(len(base) * 8), rng.randint(1, 8)):  # distinct bits
            data[bit // 8] ^= 1 << (bit % 8)
        return Fuzzed(bytes(data), kind)
    if kind == "truncate":
        return Fuzzed(base[:rng.randrange(len(base))], kind)
    if kind == "bad_utf8":
        at = rng.randint(0, len(base))
        return Fuzzed(base[:at] + rng.choice(BAD_UTF8) + base[at:], kind)
    return Fuzzed(draw(st.binary(max_size=2048)), kind)


@st.composite
def json_damage(draw: st.DrawFn, base: dict[str, Json], device_key: str | None = "device_id"
                ) -> tuple[str, bytes]:
    """A JSON-level mutation of ``base``; returns (kind, serialised bytes)."""
    weights = {"wrong_type": 30, "huge_number": 20, "missing_key": 15, "deep_nesting": 15,
               "wrong_device": 20 if device_key is not None and device_key in base else 0}
    kind = _pick(draw, **weights)
    path = _rng(draw).choice(_paths(base))
    if kind == "wrong_type":
        return kind, _dumps(_set(base, path, draw(JSON_VALUES)))
    if kind == "missing_key":
        return kind, _dumps(_set(base, path, _DELETE))
    if kind == "wrong_device":
        assert device_key is not None
        rng = _rng(draw)
        other = rng.choice((OTHER_DEVICE, "", "center", "../../x", "a" * 200,
                            draw(st.text(max_size=70))))
        return kind, _dumps(_set(base, (device_key,), other))
    # Numbers and nesting are spliced in as text: JSON that Python's dumps would never write.
    text = _dumps(_set(base, path, _MARK)).decode()
    if kind == "huge_number":
        literal = _rng(draw).choice(HUGE_LITERALS)
    else:
        rng = _rng(draw)
        depth = rng.choice((100, 1000, 5000, 50_000, 200_000))
        opener, closer = rng.choice((("[", "]"), ('{"a":', "}")))
        literal = opener * depth + "0" + closer * depth
    return kind, text.replace(json.dumps(_MARK), literal, 1).encode()


class Sealer:
    """Signs any body text with the center's key, as ``protocol.signing.Signer`` does, so a
    fuzzer can sign bodies no model would produce."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.key_id = key_id(key.public_key())
        self._verifier = Verifier([key.public_key()])

    def opens_to(self, raw: bytes, body: str) -> bool:
        """Whether ``raw`` is an envelope that verifies and carries exactly ``body``."""
        try:
            opened = self._verifier.open(raw)
        except (ProtocolError, ValueError, RecursionError):
            return False
        return opened == body.encode()

    def seal_text(self, body: str) -> bytes:
        signature = self._key.sign(body.encode())
        return _dumps({"v": 1, "alg": ALGORITHM, "kid": self.key_id, "body": body,
                       "sig": base64.b64encode(signature).decode()})


def signed_message(sealer: Sealer, body: dict[str, Json], replay: bytes,
                   refuse: Callable[[dict[str, Json]], dict[str, Json]],
                   variants: Mapping[str, Callable[[], bytes]] | None = None,
                   ) -> st.SearchStrategy[Fuzzed]:
    """Mutations of a signed manifest or command.

    ``body`` is a valid body; ``replay`` the sealed message to send again unchanged;
    ``refuse(body)`` returns a copy the agent must refuse even with a valid signature (another
    device's, or expired), applied before re-signing a mutated body. ``variants`` name
    makers of whole valid messages with a known fate (e.g. an expired command).
    """
    makers = dict(variants or {})
    envelope = json.loads(replay)

    @st.composite
    def build(draw: st.DrawFn) -> Fuzzed:
        where = _pick(draw, envelope_bytes=30, envelope_json=25, resigned=30, replay=10,
                      **{name: 5 for name in makers})
        if where in makers:
            return Fuzzed(makers[where](), where)
        if where == "replay":
            return Fuzzed(replay, "replay")
        if where == "envelope_bytes":
            damaged = draw(bytes_damage(replay))
            if sealer.opens_to(damaged.payload, envelope["body"]):
                # e.g. the unused low bits of the signature's last base64 character: the
                # agent sees the very message again
                return Fuzzed(damaged.payload, "replay:" + damaged.kind)
            return damaged
        if where == "envelope_json":
            kind, data = draw(json_damage(envelope, device_key=None))
            if sealer.opens_to(data, envelope["body"]):
                # e.g. "v": true or 1.0, which Python compares equal to 1
                return Fuzzed(data, "replay:" + kind)
            return Fuzzed(data, kind)
        kind, data = draw(json_damage(refuse(body), device_key="device_id"))
        return Fuzzed(sealer.seal_text(data.decode("utf-8", errors="replace")), "resigned:" + kind)

    return build()


def device_message(base: dict[str, Json], *, fresh_id_key: str | None = None
                   ) -> st.SearchStrategy[Fuzzed]:
    """Mutations of a valid device -> center message (event, status or telemetry).

    With ``fresh_id_key`` (the event id), a JSON mutation first gives the event a new id, so
    a mutation that leaves it valid is a new event, not a redelivery; ``replay`` sends the
    valid message itself again (the center absorbs it as a duplicate).
    """
    raw = _dumps(base)

    @st.composite
    def build(draw: st.DrawFn) -> Fuzzed:
        where = _pick(draw, bytes=40, json=50, replay=10)
        if where == "replay":
            return Fuzzed(raw, "replay")
        if where == "bytes":
            return draw(bytes_damage(raw))
        fresh = dict(base)
        if fresh_id_key is not None:
            fresh[fresh_id_key] = uuid.uuid4().hex
        kind, data = draw(json_damage(fresh))
        return Fuzzed(data, kind)

    return build()
