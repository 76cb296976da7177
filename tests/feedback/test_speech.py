"""Real Vosk with the Korean small model and real espeak-ng speech."""

from __future__ import annotations

import hashlib
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from edge_agent.speech import (
    ModelUnavailable,
    OutOfVocabulary,
    SpeechModel,
    listen,
    load_model,
)
from edge_agent.speech.__main__ import main as speech_cli
from edge_agent.speech.install import install_model
from firmware_sim.microphone import WavMicrophone, wav_to_pcm
from tests.feedback.conftest import GRAMMAR, RELIABLE, ko_model_path


def _recognise(model: SpeechModel, wav: Path, phrases: tuple[str, ...] | None) -> str:
    grammar = model.grammar(phrases) if phrases else None
    transcriber = model.transcriber(grammar)
    pcm = wav_to_pcm(wav)
    for start in range(0, len(pcm), 3200):
        transcriber.feed(pcm[start:start + 3200])
    return transcriber.finish()


@pytest.mark.parametrize("phrase", RELIABLE)
def test_grammar_mode_recognises_in_vocabulary_phrases_exactly(
    ko_model: SpeechModel, speak: Callable[[str], Path], phrase: str
) -> None:
    assert _recognise(ko_model, speak(phrase), GRAMMAR) == phrase


def test_free_recognition_returns_text_with_partials(
    ko_model: SpeechModel, speak: Callable[[str], Path]
) -> None:
    mic = WavMicrophone()
    mic.say(speak("안녕하세요 물이 없어요"))
    partials: list[str] = []
    cpu_before = time.process_time()
    result = listen(mic.chunks(threading.Event()), ko_model.transcriber(), sample_rate=16_000,
                    silence_s=0.8, max_s=15, energy_threshold=300, on_partial=partials.append)
    cpu_s = time.process_time() - cpu_before
    assert result.text.strip() != ""
    assert result.ended_by == "silence"  # the trailing silence ended it, not the input's end
    assert partials and partials[-1] == result.text
    assert 1.0 < result.duration_s < 6.0
    # Faster than real time: the CPU time this process spent (all its threads, so at least the
    # recogniser's) is less than the audio's duration. Its wall time (processing_s) is not the
    # measure here: on the suite's parallel workers the process waits for a core.
    assert result.processing_s > 0 and cpu_s < result.duration_s


def test_time_cap_ends_a_recording(ko_model: SpeechModel, speak: Callable[[str], Path]) -> None:
    mic = WavMicrophone(trailing_silence_s=0.0)
    mic.say(speak("물이 없어요 물이 없어요 물이 없어요"))
    result = listen(mic.chunks(threading.Event()), ko_model.transcriber(), sample_rate=16_000,
                    silence_s=5, max_s=1.0, energy_threshold=300)
    assert result.ended_by == "time_cap"
    assert result.duration_s == pytest.approx(1.0, abs=0.11)


def test_out_of_vocabulary_words_are_reported_when_the_grammar_is_built(
    ko_model: SpeechModel,
) -> None:
    with pytest.raises(OutOfVocabulary) as info:
        ko_model.grammar(["네", "전기가 없어요", "도로"])
    assert info.value.words == ("전기가", "도로")
    assert "전기가, 도로" in str(info.value)
    assert ko_model.grammar(["네", "아니요"]).phrases == ("네", "아니요")


def test_missing_model_gives_the_documented_message(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"no speech model at .*; install one with: "
                       r"python -m edge_agent\.speech install"):
        load_model(tmp_path / "nothing-here")
    with pytest.raises(ModelUnavailable, match="no speech model configured"):
        load_model(None)


def test_broken_model_gives_the_documented_message(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    for name in ("am/final.mdl", "conf/model.conf", "graph/HCLG.fst"):
        (broken / name).parent.mkdir(parents=True, exist_ok=True)
        (broken / name).write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable,
                       match="could not be loaded .* damaged or not a Vosk model"):
        load_model(broken)
    (broken / "am/final.mdl").unlink()
    with pytest.raises(ModelUnavailable, match=r"incomplete \(missing am/final.mdl\)"):
        load_model(broken)


def test_install_from_zip_validates_and_replaces_atomically(tmp_path: Path) -> None:
    source = ko_model_path()
    archive = tmp_path / "vosk-model-small-ko.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for file in source.rglob("*"):
            if file.is_file():
                zf.write(file, Path("vosk-model-small-ko-0.22") / file.relative_to(source))
    dest = tmp_path / "models" / "current"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "README").write_text("no model here")
    assert speech_cli(["install", str(bad), str(dest)]) == 2
    assert not dest.exists()
    # files checked, load skipped: the real load is covered by the session fixture
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert speech_cli(["install", str(archive), str(dest), "--sha256", digest, "--no-load"]) == 0
    size = (source / "am" / "final.mdl").stat().st_size
    assert (dest / "am" / "final.mdl").stat().st_size == size
    assert (dest / "graph" / "HCLr.fst").is_file()
    with pytest.raises(ModelUnavailable):
        install_model(bad, dest)
    assert (dest / "am" / "final.mdl").is_file()  # the installed model was left in place
