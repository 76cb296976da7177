"""Every refused input class gets its own clear message, and nothing is left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from media import (
    CorruptMedia,
    EmptyMedia,
    MediaError,
    NotAudio,
    PipelineConfig,
    ProcessingFailed,
    SilentMedia,
    ToolMissing,
    TooLong,
)
from media.ffmpeg import run_ffmpeg
from media.pipeline import process
from tests.media.conftest import ffmpeg

pytestmark = pytest.mark.integration


def _picture(tmp: Path) -> Path:
    path = tmp / "anh.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=16x16", "-frames:v", "1", str(path))
    return path


def _silent_video(tmp: Path) -> Path:
    path = tmp / "video.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1:size=32x32", str(path))
    return path


def _text(tmp: Path) -> Path:
    path = tmp / "ban-tin.mp3"
    path.write_text("Đây là văn bản, không phải âm thanh.\n" * 40, encoding="utf-8")
    return path


def _truncated(tmp: Path) -> Path:
    whole, path = tmp / "whole.mp3", tmp / "cut.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=3", "-c:a", "aac", "-f", "mp4", str(whole))
    path.write_bytes(whole.read_bytes()[:200])  # the moov atom is gone
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "rong.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc", "-t", "0", str(path))
    return path


def _silent(tmp: Path) -> Path:
    path = tmp / "im-lang.ogg"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "4", "-c:a", "libopus",
           str(path))
    return path


def _mostly_silent(tmp: Path) -> Path:
    path = tmp / "gan-im.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=0.3:sample_rate=16000", "-af",
           "apad=whole_dur=8", str(path))
    return path


def _long(tmp: Path) -> Path:
    path = tmp / "dai.flac"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=12:sample_rate=8000", str(path))
    return path


CASES = [
    (_picture, NotAudio, "the file has no audio track (detected format: png_pipe)"),
    (_silent_video, NotAudio, "the file has no audio track (detected format: mov,mp4,m4a"),
    (_text, CorruptMedia, "the file cannot be read as media: "),
    (_truncated, CorruptMedia, "the file cannot be read as media: "),
    (_empty, EmptyMedia, "the audio track lasts no time at all (format: wav)"),
    (_silent, SilentMedia, "the audio is silent (below -50 dBFS) for 100% of its 4.0 s: "
                           "check the recording, the microphone or the volume"),
    (_mostly_silent, SilentMedia, "the audio is silent (below -50 dBFS) for 9"),
    (_long, TooLong, "the audio lasts 12.0 s, longer than the limit of 10.0 s "
                     "(TT_MEDIA_MAX_SECONDS): split it into shorter bulletins"),
]


@pytest.mark.parametrize(("make", "error", "message"), CASES,
                         ids=[c[0].__name__.strip("_") for c in CASES])
def test_refused_with_its_own_message(
    tmp_path: Path, make: object, error: type[MediaError], message: str
) -> None:
    source = make(tmp_path)  # type: ignore[operator]
    out = tmp_path / "out"
    wave = tmp_path / "wave" / "w.png"
    config = PipelineConfig(max_seconds=10.0)
    with pytest.raises(error) as caught:
        process(source, out, config=config, waveform=wave)
    assert str(caught.value).startswith(message), str(caught.value)
    assert _files(out) == [] and _files(wave.parent) == []


def _files(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []


def test_failure_after_encoding_leaves_nothing_behind(speech: Path, tmp_path: Path) -> None:
    out, wave = tmp_path / "out", tmp_path / "wave" / "w.png"
    impossible = PipelineConfig(target_lufs=-5.0, true_peak_db=-9.0, mp3_fallback=False)
    with pytest.raises(ProcessingFailed, match=r"could not bring the audio within -9.0 dBTP"):
        process(speech, out, config=impossible, waveform=wave)
    assert _files(out) == [] and _files(wave.parent) == []


def test_messages_differ_between_classes() -> None:
    assert len({c[1] for c in CASES}) == 5 and issubclass(TooLong, MediaError)


def test_missing_ffmpeg_names_the_install_step(tmp_path: Path) -> None:
    with pytest.raises(ToolMissing, match=r"apt-get install ffmpeg"):
        run_ffmpeg(["-version"], ffmpeg="ffmpeg-not-installed")
