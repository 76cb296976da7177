"""Offline speech with real espeak-ng: duration grows with the text; engines by configuration."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from media import MediaConfigError, PipelineConfig, SpeechFailed, ToolMissing
from media.compose import Silence, compose
from media.pipeline import process
from media.probe import probe_audio
from media.tts import CommandEngine, EspeakEngine, engine_from_env, speak
from media.waveform import render_waveform
from tests.media.conftest import ebur128

pytestmark = pytest.mark.integration

SHORT = "UBND xã thông báo: 17h30 ngày 2/9 họp dân."
LONG = (SHORT + " Đề nghị bà con mang theo căn cước, sổ hộ khẩu và 2 ảnh 3x4. "
        "Tỷ lệ tiêm chủng đạt 95%, còn 21 hộ chưa đăng ký tại HĐND xã.")


def test_speech_duration_grows_with_the_text(tmp_path: Path) -> None:
    short = speak(SHORT, tmp_path / "short.wav")
    long = speak(LONG, tmp_path / "long.wav")
    assert 2000 < short.duration_ms < long.duration_ms
    assert long.duration_ms > 2 * short.duration_ms
    spoken_numbers = speak("17h30 ngày 2/9", tmp_path / "numbers.wav")
    written_out = speak("mười bảy giờ ba mươi phút ngày mùng hai tháng chín",
                        tmp_path / "words.wav")
    assert abs(spoken_numbers.duration_ms - written_out.duration_ms) < 50  # read as words


def test_speech_goes_through_the_pipeline(tmp_path: Path) -> None:
    wav = tmp_path / "tin.wav"
    speak(LONG, wav)
    result = process(wav, tmp_path / "out", config=PipelineConfig(mp3_fallback=False))
    measured = ebur128(result.delivery.path)
    assert abs(measured.integrated + 16) <= 1 and measured.true_peak <= -1.5


def test_engine_by_configuration(tmp_path: Path) -> None:
    assert isinstance(engine_from_env({}), EspeakEngine)
    by_class = engine_from_env({"TT_TTS_ENGINE": "media.tts.engines:EspeakEngine"})
    assert isinstance(by_class, EspeakEngine)
    command = engine_from_env({
        "TT_TTS_COMMAND": "espeak-ng -v vi-vn-x-south -w {out} -f {text_file}"})
    assert isinstance(command, CommandEngine)
    info = speak("Bà con chú ý, 6h sáng mai mất điện.", tmp_path / "cmd.wav", engine=command)
    assert info.duration_ms > 1500
    stdin_engine = CommandEngine("espeak-ng -v vi -w {out}")  # the text goes on stdin
    assert speak("Xin chào.", tmp_path / "stdin.wav", engine=stdin_engine).duration_ms > 300


def test_engine_errors_are_actionable(tmp_path: Path) -> None:
    with pytest.raises(MediaConfigError, match="'package.module:Class'"):
        engine_from_env({"TT_TTS_ENGINE": "piper"})
    with pytest.raises(MediaConfigError, match="cannot be imported"):
        engine_from_env({"TT_TTS_ENGINE": "no_such_module:Engine"})
    with pytest.raises(MediaConfigError, match="must contain {out}"):
        CommandEngine("piper --model vi.onnx")
    with pytest.raises(ToolMissing, match="apt-get install espeak-ng"):
        speak("Xin chào", tmp_path / "x.wav", engine=EspeakEngine(executable="espeak-missing"))
    with pytest.raises(SpeechFailed, match="no text to speak"):
        speak("   ", tmp_path / "y.wav")
    with pytest.raises(SpeechFailed, match="espeak-ng has no voice 'no-such-voice'"):
        speak("Xin chào", tmp_path / "z.wav", engine=EspeakEngine(voice="no-such-voice"))
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_compose_with_tunes_silences_and_crossfades(tmp_path: Path) -> None:
    tune = tmp_path / "nhac.wav"
    from tests.media.conftest import ffmpeg

    ffmpeg("-f", "lavfi", "-i", "sine=frequency=660:duration=2", str(tune))
    one, two = tmp_path / "a.wav", tmp_path / "b.wav"
    a_ms, b_ms = speak("Thông báo thứ nhất.", one).duration_ms, speak("Hết.", two).duration_ms
    out = tmp_path / "ban-tin.wav"
    ms = compose([one, Silence(700), two], out, intro=tune, outro=tune, crossfade_ms=400)
    assert abs(ms - (2000 + a_ms + 700 + b_ms + 2000 - 2 * 400)) <= 3  # ms rounding
    assert abs(probe_audio(out).duration_ms - ms) <= 1
    bare = compose([one], tmp_path / "bare.wav")
    assert bare == a_ms


def test_waveform_png(speech: Path, tmp_path: Path) -> None:
    png = render_waveform(speech, tmp_path / "w.png", size=(320, 60))
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (320, 60)  # IHDR width, height
