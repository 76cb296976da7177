"""The pipeline hits the R128 target (±1 LU) under the true-peak limit, whatever comes in."""

from __future__ import annotations

from pathlib import Path

import pytest

from media import PipelineConfig
from media.pipeline import process
from tests.media.conftest import Measured, ebur128, ffmpeg

pytestmark = pytest.mark.integration

TARGET, PEAK = -16.0, -1.5


def _variant(speech: Path, tmp: Path, name: str, filters: str, *extra: str) -> Path:
    out = tmp / name
    ffmpeg("-i", str(speech), "-af", filters, *extra, str(out))
    return out


@pytest.mark.parametrize(("name", "filters", "extra"), [
    ("quiet.wav", "volume=-30dB", ()),
    ("loud.wav", "volume=6dB", ()),
    ("clipped.wav", "volume=24dB", ("-c:a", "pcm_s16le")),  # s16 saturates: hard clipping
    ("stereo.mp3", "volume=-6dB", ("-ac", "2", "-c:a", "libmp3lame")),
    ("short.flac", "atrim=duration=1.5,volume=-20dB", ()),
])
def test_outputs_meet_the_target(
    speech: Path, tmp_path: Path, name: str, filters: str, extra: tuple[str, ...]
) -> None:
    source = _variant(speech, tmp_path, name, filters, *extra)
    before = ebur128(source)
    result = process(source, tmp_path / "out", config=PipelineConfig(target_lufs=TARGET,
                                                                      true_peak_db=PEAK))
    assert [r.format for r in result.renditions] == ["opus", "mp3"]
    for rendition in result.renditions:
        measured = ebur128(rendition.path) if "short" not in name else _looped(rendition.path,
                                                                              tmp_path)
        assert abs(measured.integrated - TARGET) <= 1.0, (name, rendition.format, measured)
        assert measured.true_peak <= PEAK, (name, rendition.format, measured)
    delivery = result.delivery
    assert (delivery.mime, delivery.codec, delivery.bitrate) == ("audio/ogg", "opus", 32000)
    assert delivery.duration_ms == result.source.duration_ms
    if "quiet" in name:
        assert before.integrated < -40 and result.gain.gain_db > 20
    if "clipped" in name:
        assert before.true_peak >= 0 and result.gain.gain_db < 0


def _looped(path: Path, tmp: Path) -> Measured:
    """A clip under 3 s is measured looped to 6 s (R128's gating needs whole blocks)."""
    looped = tmp / "looped.wav"
    ffmpeg("-stream_loop", "3", "-i", str(path), str(looped))
    return ebur128(looped)


def test_other_target_and_video_input(speech: Path, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=4:size=64x48:rate=10", "-i", str(speech),
           "-map", "0:v", "-map", "1:a", "-c:v", "mpeg4", "-c:a", "aac", "-shortest", str(video))
    config = PipelineConfig(target_lufs=-23.0, true_peak_db=-3.0, mp3_fallback=False)
    result = process(video, tmp_path / "out", config=config)
    (opus,) = result.renditions
    measured = ebur128(opus.path)
    assert abs(measured.integrated + 23) <= 1 and measured.true_peak <= -3.0
