"""Benchmark: the media pipeline against the raw tool it is built on.

Reports, per minute of input audio, on this machine:
  (a) processing time of the pipeline (probe, R128 measurement with silence detection,
      gain/limiter + Opus 32 kbps encode + waveform, re-measurement) as a ratio to a bare
      single ffmpeg transcode of the same input to the same format (goal: <= 2.5x);
      the same with the MP3 fallback, against a bare two-output transcode;
  (b) delivery bytes per minute of audio against a 128 kbps MP3 of the same clip
      (goal: <= 0.25).

Inputs are made here: a ~1 minute Vietnamese bulletin spoken by espeak-ng over a quiet
background, as the stereo 44.1 kHz WAV of a phone recording and as a 128 kbps MP3 from the
province.

Usage: .venv/bin/python bench/media_pipeline.py [--minutes 1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from media import PipelineConfig  # noqa: E402
from media.encode import mp3, opus  # noqa: E402
from media.pipeline import process  # noqa: E402

OPUS = opus(32).encoder_args()
MP3 = mp3(64)
"""The bare transcode uses exactly the pipeline's encoder settings."""

TEXT = ("Ủy ban nhân dân xã thông báo: đúng 17h30 ngày 2/9 tổ chức lễ kỷ niệm Quốc khánh tại "
        "nhà văn hóa thôn. Đề nghị bà con đến đúng giờ, mang theo căn cước công dân. Tỷ lệ "
        "tiêm chủng của xã đã đạt 95%, còn 21 hộ chưa đăng ký, đề nghị các hộ này liên hệ trạm "
        "y tế trước ngày 15/9. Dự báo thời tiết: chiều nay có mưa rào và dông, lượng mưa từ "
        "20 đến 40 mm, bà con chú ý phòng tránh sét. ")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def make_inputs(tmp: Path, minutes: float) -> dict[str, Path]:
    from media.tts import speak

    speech = tmp / "speech.wav"
    speak(TEXT * 8, speech)
    seconds = f"{minutes * 60:.0f}"
    wav = tmp / "phone.wav"
    ffmpeg("-stream_loop", "-1", "-i", str(speech), "-f", "lavfi", "-i",
           "anoisesrc=c=pink:a=0.003:r=44100", "-filter_complex",
           "[0:a]aresample=44100,volume=-12dB[s];[s][1:a]amix=inputs=2:duration=first",
           "-t", seconds, "-ac", "2", "-ar", "44100", "-c:a", "pcm_s16le", str(wav))
    mp3 = tmp / "province.mp3"
    ffmpeg("-i", str(wav), "-c:a", "libmp3lame", "-b:a", "128k", str(mp3))
    return {"WAV (stereo 44.1 kHz)": wav, "MP3 128 kbps": mp3}


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-media-"))
    try:
        inputs = make_inputs(tmp, args.minutes)
        print(f"per minute of audio, median of {args.repeat} runs "
              f"(input {args.minutes:g} min; ffmpeg single-threaded audio path)\n")
        header = f"{'input':24} {'case':28} {'pipeline s':>10} {'bare s':>8} {'ratio':>6}"
        print(header + "\n" + "-" * len(header))
        sizes = {label: bench_input(label, src, tmp, args.repeat, args.minutes)
                 for label, src in inputs.items()}
        print("\ndelivery bytes per minute of audio against a 128 kbps MP3 of the same clip")
        for label, (delivered, ref_size) in sizes.items():
            print(f"{label:24} Opus {delivered / args.minutes / 1024:7.1f} KiB/min   "
                  f"MP3 128k {ref_size / args.minutes / 1024:7.1f} KiB/min   "
                  f"ratio {delivered / ref_size:.3f}  (goal <= 0.25)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def bench_input(label: str, src: Path, tmp: Path, repeat: int, minutes: float) -> tuple[int, int]:
    """Print the timing rows for one input; return (delivery bytes, 128 kbps MP3 bytes)."""
    out, bare_ogg, bare_mp3, wave = tmp / "out", tmp / "bare.ogg", tmp / "bare.mp3", tmp / "w.png"
    delivery_only = PipelineConfig(mp3_fallback=False)
    bare = timed(lambda: ffmpeg("-i", str(src), "-ac", "1", *OPUS, str(bare_ogg)), repeat)
    piped = timed(lambda: process(src, out, config=delivery_only, waveform=wave), repeat)
    row(label, "Opus 32k (delivery only)", piped, bare, minutes)
    bare2 = timed(lambda: ffmpeg("-i", str(src), "-ac", "1", *OPUS, str(bare_ogg),
                                 "-ac", "1", "-ar", str(MP3.sample_rate), *MP3.encoder_args(),
                                 str(bare_mp3)), repeat)
    both = timed(lambda: process(src, out, config=PipelineConfig(), waveform=wave), repeat)
    row(label, "Opus 32k + MP3 64k fallback", both, bare2, minutes)
    result = process(src, out, config=delivery_only)
    ref = tmp / "ref128.mp3"
    ffmpeg("-i", str(src), "-c:a", "libmp3lame", "-b:a", "128k", str(ref))
    return result.delivery.size, ref.stat().st_size


def row(label: str, case: str, piped: float, bare: float, minutes: float) -> None:
    print(f"{label:24} {case:28} {piped / minutes:10.3f} {bare / minutes:8.3f} "
          f"{piped / bare:5.2f}x  (goal <= 2.5x)")


if __name__ == "__main__":
    raise SystemExit(main())
