"""``python -m media``: probe, process, speak, compose, waveform, normalise-text, install-voice."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm  # type: ignore[import-untyped]

from media.compose import Part, Silence, compose
from media.config import config_from_env
from media.errors import MediaError
from media.ffmpeg import Progress
from media.pipeline import ProcessResult, process
from media.probe import probe_audio
from media.tts import engine_from_env, normalise_vi, speak
from media.tts.voice_install import install_voice
from media.waveform import render_waveform

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except MediaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m media", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    c = sub.add_parser("probe", help="describe an audio file")
    c.add_argument("file", type=Path)
    c.set_defaults(run=_probe)
    c = sub.add_parser("process", help="validate, normalise and encode an upload")
    c.add_argument("file", type=Path)
    c.add_argument("-o", "--out-dir", type=Path, default=Path("."))
    c.add_argument("--target", type=float, help="integrated loudness, LUFS (default -16)")
    c.add_argument("--true-peak", type=float, help="true-peak limit, dBTP (default -1.5)")
    c.add_argument("--no-mp3", action="store_true", help="skip the MP3 fallback")
    c.add_argument("--waveform", type=Path, help="also write a waveform PNG here")
    c.set_defaults(run=_process)
    c = sub.add_parser("speak", help="text to speech (normalised Vietnamese), then process")
    c.add_argument("text", help="the text, or @file.txt")
    c.add_argument("-o", "--out", type=Path, required=True, help="the speech WAV to write")
    c.set_defaults(run=_speak)
    c = sub.add_parser("normalise-text", help="print the text as the speech engine gets it")
    c.add_argument("text")
    c.set_defaults(run=lambda a: print(normalise_vi(_text(a.text))) or 0)
    c = sub.add_parser("compose", help="intro + speech segments/silences + outro, to a WAV")
    c.add_argument("parts", nargs="+", help="audio files and pauses such as 800ms")
    c.add_argument("-o", "--out", type=Path, required=True)
    c.add_argument("--intro", type=Path)
    c.add_argument("--outro", type=Path)
    c.add_argument("--crossfade-ms", type=int, default=500)
    c.set_defaults(run=_compose)
    c = sub.add_parser("waveform", help="draw a waveform PNG")
    c.add_argument("file", type=Path)
    c.add_argument("-o", "--out", type=Path, required=True)
    c.set_defaults(run=lambda a: print(render_waveform(a.file, a.out)) or 0)
    c = sub.add_parser("install-voice", help="install a Piper voice (.onnx + .onnx.json) by path "
                       "or URL, checked by SHA-256 (pinned, or --sha256) before use")
    c.add_argument("source", help="the voice's .onnx file or its http(s) URL")
    c.add_argument("dest", type=Path, help="the voices folder")
    c.add_argument("--sha256", help="the .onnx file's SHA-256 (required when not pinned)")
    c.add_argument("--config", help="its .onnx.json (default: the source + .json)")
    c.add_argument("--config-sha256", help="the .onnx.json's SHA-256 (required when not pinned)")
    c.set_defaults(run=_install_voice)
    return p


def _install_voice(args: argparse.Namespace) -> int:
    voice = install_voice(args.source, args.dest, sha256=args.sha256, config=args.config,
                          config_sha256=args.config_sha256)
    print(f"installed {voice.model} (sha256 {voice.sha256})")
    print(f'speak with it: TT_TTS_COMMAND="{voice.command}"')
    return 0


def _probe(args: argparse.Namespace) -> int:
    info = probe_audio(args.file)
    print(f"{args.file}: {info.format_name}/{info.codec}, {info.duration_ms / 1000:.2f} s, "
          f"{info.sample_rate} Hz, {info.channels} ch, {info.mime}")
    return 0


def _process(args: argparse.Namespace) -> int:
    config = config_from_env()
    if args.target is not None:
        config = replace(config, target_lufs=args.target)
    if args.true_peak is not None:
        config = replace(config, true_peak_db=args.true_peak)
    if args.no_mp3:
        config = replace(config, mp3_fallback=False)
    with _bar(args.file.name) as progress:
        result = process(args.file, args.out_dir, config=config, waveform=args.waveform,
                         progress=progress)
    _report(result)
    return 0


def _report(result: ProcessResult) -> None:
    src, loud = result.source, result.source_loudness
    print(f"input: {src.codec}, {src.duration_ms / 1000:.2f} s, {loud.integrated:.1f} LUFS, "
          f"{loud.true_peak:.1f} dBTP; gain {result.gain.gain_db:+.1f} dB"
          + (f", limiter at {result.gain.limit_db:.1f} dB" if result.gain.limit_db else ""))
    for r in result.renditions:
        print(f"{r.format}: {r.path} ({r.size} bytes, {r.bitrate // 1000} kbps, "
              f"{r.loudness.integrated:.1f} LUFS, {r.loudness.true_peak:.1f} dBTP)")


def _speak(args: argparse.Namespace) -> int:
    info = speak(_text(args.text), args.out, engine=engine_from_env())
    print(f"{args.out}: {info.duration_ms / 1000:.2f} s of speech")
    return 0


def _compose(args: argparse.Namespace) -> int:
    parts: list[Part] = [Silence(int(p[:-2])) if p.endswith("ms") and p[:-2].isdigit()
                         else Path(p) for p in args.parts]
    ms = compose(parts, args.out, intro=args.intro, outro=args.outro,
                 crossfade_ms=args.crossfade_ms)
    print(f"{args.out}: {ms / 1000:.2f} s")
    return 0


def _text(value: str) -> str:
    return Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value


@contextmanager
def _bar(name: str) -> Iterator[Progress]:
    """A percentage bar on a terminal (silent when stderr is not a TTY)."""
    with tqdm(total=100, desc=name, unit="%", disable=None, leave=False,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}") as bar:

        def update(fraction: float) -> None:
            bar.update(max(0.0, round(fraction * 100, 1) - bar.n))

        yield update
