"""Decodes a run's fMP4 Opus segments in the agent's own process (PyAV: FFmpeg's libraries).

One Opus decoder per run, kept from segment to segment, so consecutive segments play without
a seam and a missing one is concealed by the codec rather than heard as a click. Each decoded
block comes with its place in the segment (in samples from the segment's first packet), so
it is played by the segment's own signed instant: nothing is counted across segments, and a
skipped or lost segment moves no later sample.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
from av.audio.codeccontext import AudioCodecContext

from edge_agent.errors import AgentError

SAMPLE_RATE = 48_000
BYTES_PER_SAMPLE = 2  # s16le, mono
FRAME_SAMPLES = 960  # 20 ms Opus frames (the segmenter's -frame_duration)


class UndecodableSegment(AgentError):
    """A segment (already verified by hash) that the decoder could not read."""


@dataclass(frozen=True, slots=True)
class DecodedBlock:
    offset: int  # samples from the segment's first packet to the block's first sample
    pcm: bytes   # 48 kHz mono s16le


class Decoder:
    def __init__(self, init: bytes) -> None:
        self._init = init
        self._codec: AudioCodecContext | None = None
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def decode(self, segment: bytes) -> DecodedBlock | None:
        """The segment's samples as one block (None if it held none)."""
        try:
            container = av.open(io.BytesIO(self._init + segment), mode="r", format="mp4")
        except (av.error.FFmpegError, ValueError) as exc:
            raise UndecodableSegment(f"segment not readable: {exc}") from exc
        try:
            stream = container.streams.audio[0]
            if self._codec is None:
                self._codec = av.CodecContext.create("opus", "r")
                self._codec.extradata = stream.codec_context.extradata
            first: int | None = None
            offset: int | None = None
            pcm = bytearray()
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                first = packet.pts if first is None else first
                for frame in self._codec.decode(packet):
                    # the decoder's first frame lacks its pre-skip: it ends where a full one would
                    start = (frame.pts or packet.pts) + max(0, FRAME_SAMPLES - frame.samples)
                    for out in self._resampler.resample(frame):
                        offset = start - first if offset is None else offset
                        pcm.extend(bytes(out.planes[0])[: out.samples * BYTES_PER_SAMPLE])
        except (av.error.FFmpegError, IndexError, ValueError) as exc:
            raise UndecodableSegment(f"segment not decodable: {exc}") from exc
        finally:
            container.close()
        return None if offset is None or not pcm else DecodedBlock(offset, bytes(pcm))


def decode_file(path: Path) -> bytes:
    """A whole audio file (a live item's filler, any format FFmpeg reads) as 48 kHz mono s16le
    samples; raises UndecodableSegment when it cannot be read."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    pcm = bytearray()
    try:
        with av.open(str(path), mode="r") as container:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    pcm.extend(bytes(out.planes[0])[: out.samples * BYTES_PER_SAMPLE])
        for out in resampler.resample(None):  # what the resampler still holds
            pcm.extend(bytes(out.planes[0])[: out.samples * BYTES_PER_SAMPLE])
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise UndecodableSegment(f"{path.name} not decodable: {exc}") from exc
    return bytes(pcm)
