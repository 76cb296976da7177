"""The real ALSA path: AlsaSink plays through aplay / ffplay into ALSA's ``file`` plugin, and
the samples ALSA received are compared with the source."""

from __future__ import annotations

import array
import math
import subprocess
import threading
import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.alsa import AlsaSink
from edge_agent.errors import SinkError
from protocol.manifest import AudioContent, PlayItem
from tests.pi.conftest import DEVICE, AlsaFiles, need

pytestmark = pytest.mark.integration

SPEECH = "Thông báo của ủy ban nhân dân xã về lịch tiêm chủng tuần này."


def sine_wav(path: Path, *, rate: int, seconds: float = 1.0, hz: float = 440.0) -> Path:
    frames = array.array("h", (int(12_000 * math.sin(2 * math.pi * hz * i / rate))
                               for i in range(int(rate * seconds))))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return path


def speech_wav(path: Path) -> Path:
    espeak = need("espeak-ng", "espeak-ng")
    subprocess.run([espeak, "-v", "vi", "-w", str(path), SPEECH], check=True, timeout=30)
    return path


def to_opus(source: Path, dest: Path) -> Path:
    """Encoded as the media pipeline does (Opus, mono), saved under a hash-like name."""
    ffmpeg = need("ffmpeg", "ffmpeg")
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(source), "-ac", "1",
                    "-c:a", "libopus", "-b:a", "32k", "-f", "ogg", str(dest)],
                   check=True, timeout=60)
    return dest


def decoded(path: Path, rate: int) -> array.array[int]:
    """What ffmpeg decodes from ``path`` as 16-bit mono at ``rate``."""
    ffmpeg = need("ffmpeg", "ffmpeg")
    raw = subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(path), "-f", "s16le",
                          "-ac", "1", "-ar", str(rate), "-"],
                         check=True, capture_output=True, timeout=60).stdout
    return array.array("h", raw)


def read_wav(path: Path) -> tuple[wave._wave_params, array.array[int]]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        samples = array.array("h", w.readframes(w.getnframes()))
    return params, samples


def trimmed(samples: array.array[int]) -> array.array[int]:
    """Without the silence before the first and after the last non-zero sample."""
    nonzero = [i for i, v in enumerate(samples) if v]
    assert nonzero, "silence only"
    return samples[nonzero[0]:nonzero[-1] + 1]


def correlation(a: array.array[int], b: array.array[int]) -> float:
    n = min(len(a), len(b))
    ma, mb = sum(a[:n]) / n, sum(b[:n]) / n
    cov = sum((a[i] - ma) * (b[i] - mb) for i in range(n))
    va = sum((a[i] - ma) ** 2 for i in range(n))
    vb = sum((b[i] - mb) ** 2 for i in range(n))
    return cov / math.sqrt(va * vb)


def play(sink: AlsaSink, path: Path) -> list[datetime]:
    started: list[datetime] = []
    item = PlayItem(item_id="i-1", bulletin_id=1, title="Bản tin", start_at=datetime.now(UTC),
                    content=AudioContent(sha256="0" * 64, url="http://center/media/x",
                                         size=path.stat().st_size, duration_ms=1000))
    result = sink.play(path, item=item, cancel=threading.Event(), on_started=started.append)
    assert result.completed and started == [result.started_at]
    return started


@pytest.mark.parametrize("device", ["default", DEVICE])
@pytest.mark.parametrize("source", ["sine-16k", "sine-48k", "speech"])
def test_a_wav_reaches_alsa_sample_for_sample(alsa_files: AlsaFiles, tmp_path: Path,
                                              source: str, device: str) -> None:
    need("aplay", "alsa-utils")
    wav = (speech_wav(tmp_path / "src") if source == "speech" else
           sine_wav(tmp_path / "src", rate=16_000 if source == "sine-16k" else 48_000))
    src_params, src = read_wav(wav)
    play(AlsaSink(device), wav)
    written, other = ((alsa_files.default, alsa_files.named) if device == "default" else
                      (alsa_files.named, alsa_files.default))
    params, out = read_wav(written)
    assert not other.exists(), "played on the wrong ALSA device"
    assert (params.nchannels, params.sampwidth, params.framerate) == (
        1, 2, src_params.framerate)
    # aplay hands the PCM over untouched; it only fills its last period with silence
    assert out[:len(src)] == src
    padding = out[len(src):]
    assert len(padding) < src_params.framerate // 10 and not any(padding), len(padding)


def test_an_opus_bulletin_reaches_alsa_through_ffplay(alsa_files: AlsaFiles,
                                                      tmp_path: Path) -> None:
    need("ffplay", "ffmpeg")
    bulletin = to_opus(speech_wav(tmp_path / "speech.wav"), tmp_path / ("ab" * 32))
    reference = trimmed(decoded(bulletin, 48_000))
    play(AlsaSink(DEVICE), bulletin)
    assert not alsa_files.default.exists(), "ffplay ignored the device (AUDIODEV)"
    params, out = read_wav(alsa_files.named)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 48_000)
    played = trimmed(out)  # SDL may pad silence before and after
    assert abs(len(played) - len(reference)) <= 0.01 * len(reference), (
        len(played), len(reference))
    assert correlation(played, reference) > 0.99


def test_an_unknown_device_is_a_sink_error_naming_the_player(alsa_files: AlsaFiles,
                                                             tmp_path: Path) -> None:
    need("aplay", "alsa-utils")
    wav = sine_wav(tmp_path / "src.wav", rate=16_000, seconds=0.1)
    with pytest.raises(SinkError, match=r"aplay exited with 1: .*no_such_card"):
        play(AlsaSink("no_such_card"), wav)


def test_without_ffplay_an_opus_file_is_refused_rather_than_played_as_noise(
        alsa_files: AlsaFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aplay = need("aplay", "alsa-utils")
    bulletin = to_opus(sine_wav(tmp_path / "src.wav", rate=16_000, seconds=0.2),
                       tmp_path / ("cd" * 32))
    only_aplay = tmp_path / "bin"
    only_aplay.mkdir()
    (only_aplay / "aplay").symlink_to(aplay)
    monkeypatch.setenv("PATH", str(only_aplay))
    with pytest.raises(SinkError, match="apt-get install ffmpeg"):
        play(AlsaSink(), bulletin)
    assert not alsa_files.default.exists()
