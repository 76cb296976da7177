"""Pulls a live stream's segments from the center and checks each against its signature."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx

from edge_agent.errors import AgentError
from protocol.errors import ProtocolError
from protocol.live import LiveContent, LiveSegment
from protocol.signing import Verifier

SEGMENT_HEADER = "X-Live-Segment"


class LiveRefused(AgentError):
    """A segment or an answer that must not be played (bad signature, wrong hash, refused)."""


class StreamEnded(AgentError):
    """The center says the stream has ended (410)."""


@dataclass(frozen=True, slots=True)
class Segment:
    descriptor: LiveSegment
    data: bytes


class SegmentFetcher:
    """One device's view of one stream: the next segment, verified; init segments by hash."""

    def __init__(self, *, content: LiveContent, device_id: str, verifier: Verifier,
                 client: httpx.Client) -> None:
        self._content = content
        self._verifier = verifier
        self._client = client
        self._headers = {"X-Device-Id": device_id, "Authorization": f"Bearer {content.token}"}
        self._inits: dict[str, bytes] = {}
        self.bytes_in = 0

    def next(self, after: tuple[int, int] | None, wait_s: float) -> Segment | None:
        """The segment after ``after`` (run, seq), None if none came within ``wait_s``.

        Raises httpx.HTTPError (network), StreamEnded, LiveRefused."""
        params: dict[str, str | float] = {"wait_s": wait_s}
        if after is not None:
            params["after"] = f"{after[0]}:{after[1]}"
        response = self._client.get(f"{self._content.url}/next", params=params,
                                    headers=self._headers, timeout=wait_s + 10)
        self.bytes_in += len(response.content) + sum(len(k) + len(v) + 4
                                                     for k, v in response.headers.items())
        if response.status_code == 204:
            return None
        if response.status_code == 410:
            raise StreamEnded("the center ended the stream")
        if response.status_code != 200:
            raise LiveRefused(f"the center answered {response.status_code}: "
                              f"{response.text[:200]}")
        return Segment(self._verify(response), response.content)

    def _verify(self, response: httpx.Response) -> LiveSegment:
        try:
            envelope = response.headers.get(SEGMENT_HEADER, "").encode("ascii")
            body = self._verifier.open(envelope)
            descriptor = LiveSegment.model_validate_json(body)
        except (ProtocolError, ValueError) as exc:
            raise LiveRefused(f"segment descriptor refused: {exc}") from exc
        if descriptor.stream_id != self._content.stream_id:
            raise LiveRefused(f"segment of stream {descriptor.stream_id}, not "
                              f"{self._content.stream_id}")
        if hashlib.sha256(response.content).hexdigest() != descriptor.sha256:
            raise LiveRefused(f"segment {descriptor.run}:{descriptor.seq} does not match the "
                              "hash its signed descriptor gives")
        return descriptor

    def init(self, sha256: str) -> bytes:
        """A run's initialisation segment, verified by the hash a signed descriptor gave."""
        if sha256 not in self._inits:
            response = self._client.get(f"{self._content.url}/init/{sha256}",
                                        headers=self._headers, timeout=15)
            self.bytes_in += len(response.content)
            if response.status_code != 200:
                raise LiveRefused(f"init segment: the center answered {response.status_code}")
            if hashlib.sha256(response.content).hexdigest() != sha256:
                raise LiveRefused("init segment does not match its signed hash")
            self._inits[sha256] = response.content
        return self._inits[sha256]
