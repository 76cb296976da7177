"""media.probe_audio on real files made by ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from media import CorruptMedia, EmptyMedia, NotAudio, ToolMissing, probe_audio

pytestmark = pytest.mark.integration


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


def test_wav(tone_wav: Path) -> None:
    info = probe_audio(tone_wav)
    assert info.codec == "pcm_s16le"
    assert (info.sample_rate, info.channels, info.format_name) == (16000, 1, "wav")
    assert info.duration_ms == 1000
    assert info.mime == "audio/wav"


def test_mp3(tmp_path: Path) -> None:
    path = tmp_path / "a.mp3"
    _ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "libmp3lame", str(path))
    info = probe_audio(path)
    assert info.codec == "mp3" and info.mime == "audio/mpeg"
    assert 1900 <= info.duration_ms <= 2100


def test_text_renamed_mp3_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.mp3"
    path.write_text("Thông báo: đây không phải âm thanh\n" * 20)
    with pytest.raises(CorruptMedia, match="cannot be read as media"):
        probe_audio(path)


def test_video_without_sound_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1:size=32x32", str(path))
    with pytest.raises(NotAudio, match=r"no audio track \(detected format: mov,mp4"):
        probe_audio(path)


def test_zero_length_audio_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "z.wav"
    _ffmpeg("-f", "lavfi", "-i", "anullsrc", "-t", "0", str(path))
    with pytest.raises(EmptyMedia):
        probe_audio(path)


def test_missing_tool_names_the_install_step(tone_wav: Path) -> None:
    with pytest.raises(ToolMissing, match="apt-get install ffmpeg"):
        probe_audio(tone_wav, ffprobe="ffprobe-not-installed")
