"""``python -m media`` as an operator runs it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "media", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_process_prints_the_renditions(speech: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _cli("process", str(speech), "-o", str(out), "--waveform", str(tmp_path / "w.png"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("input: pcm_s16le, ")
    assert [ln.split(":")[0] for ln in lines[1:]] == ["opus", "mp3"]
    for line in lines[1:]:
        path = Path(line.split(": ", 1)[1].split(" (")[0])
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    assert (tmp_path / "w.png").read_bytes().startswith(b"\x89PNG")


def test_refusal_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    fake = tmp_path / "fake.wav"
    fake.write_text("không phải âm thanh\n" * 30, encoding="utf-8")
    done = _cli("process", str(fake), "-o", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: the file cannot be read as media: ")
    assert not (tmp_path / "out").exists()


def test_normalise_text_and_speak(tmp_path: Path) -> None:
    done = _cli("normalise-text", "UBND: 17h30 ngày 2/9")
    assert done.stdout.strip() == ("ủy ban nhân dân: mười bảy giờ ba mươi phút "
                                   "ngày mùng hai tháng chín")
    wav = tmp_path / "tin.wav"
    done = _cli("speak", "Bà con chú ý, 6h sáng mai mất điện.", "-o", str(wav))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{wav}: ") and wav.stat().st_size > 10_000
