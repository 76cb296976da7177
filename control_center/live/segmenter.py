"""The segmenter: one ffmpeg run cutting a source into signed HLS segments.

ffmpeg reads the source (an upstream URL, or audio written to its standard input by the
console or a commune's Pi), encodes Opus at ``bitrate`` and writes fMP4 segments of
``segment_s`` with ``EXT-X-PROGRAM-DATE-TIME`` into ``<root>/<stream>/<run>/``. A watcher
thread reads the playlist as ffmpeg rewrites it and, for each new segment, writes its signed
``LiveSegment`` descriptor beside it (``seg<seq>.json``): from then on the segment is served.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from protocol.live import LiveSegment
from protocol.signing import Signer

log = logging.getLogger(__name__)

SEGMENT_S = 0.5
BITRATE = 24_000
WATCH_INTERVAL_S = 0.02
INIT_NAME = "init.mp4"
_ENTRY = re.compile(
    r"#EXTINF:(?P<dur>[0-9.]+),?\s*\n#EXT-X-PROGRAM-DATE-TIME:(?P<pdt>\S+)\s*\n"
    r"seg(?P<seq>[0-9]+)\.m4s")


@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    seq: int
    duration_ms: int
    pdt: datetime


def parse_playlist(text: str) -> list[PlaylistEntry]:
    """The segments an ffmpeg HLS playlist lists, with their instants."""
    entries = []
    for m in _ENTRY.finditer(text):
        pdt = datetime.fromisoformat(m["pdt"].replace("+0000", "+00:00"))
        entries.append(PlaylistEntry(int(m["seq"]), round(float(m["dur"]) * 1000), pdt))
    return entries


def segment_name(seq: int) -> str:
    return f"seg{seq:06d}.m4s"


def descriptor_name(seq: int) -> str:
    return f"seg{seq:06d}.json"


def ffmpeg_command(*, source_url: str | None, directory: Path, segment_s: float, bitrate: int,
                   ffmpeg: str = "ffmpeg") -> list[str]:
    """The ffmpeg command of one run (``source_url`` None: audio comes on standard input)."""
    if source_url is None:
        source = ["-probesize", "4096", "-analyzeduration", "0", "-i", "pipe:0"]
    else:
        # an upstream that stalls 5 s ends the run; the relay runner starts a new one
        source = ["-nostdin", "-reconnect", "1", "-reconnect_streamed", "1",
                  "-reconnect_delay_max", "2", "-rw_timeout", "5000000", "-i", source_url]
    return [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *source,
        "-vn", "-ac", "1", "-ar", "48000",
        # constrained VBR: a tonal source (music, a test tone) costs no more than the bitrate
        "-c:a", "libopus", "-b:a", str(bitrate), "-vbr", "constrained", "-frame_duration", "20",
        "-application", "audio",
        "-f", "hls", "-hls_time", str(segment_s), "-hls_list_size", "20",
        "-hls_flags", "program_date_time+independent_segments+temp_file",
        "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", INIT_NAME,
        "-hls_segment_filename", str(directory / "seg%06d.m4s"),
        str(directory / "index.m3u8"),
    ]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Segmenter:
    """One run of one stream: start it, feed it (microphone), stop it."""

    def __init__(self, *, stream_id: str, run: int, root: Path, signer: Signer,
                 source_url: str | None, segment_s: float = SEGMENT_S, bitrate: int = BITRATE,
                 on_segment: Callable[[LiveSegment], None] | None = None,
                 ffmpeg: str = "ffmpeg") -> None:
        self.stream_id = stream_id
        self.run = run
        self.directory = root / stream_id / str(run)
        self._signer = signer
        self._source_url = source_url
        self._segment_s = segment_s
        self._bitrate = bitrate
        self._ffmpeg = ffmpeg
        self._on_segment = on_segment
        self._proc: subprocess.Popen[bytes] | None = None
        self._watcher: threading.Thread | None = None
        self._signed: set[int] = set()
        self._init_sha: str | None = None
        self._feed_lock = threading.Lock()
        self._error: str | None = None
        self._fed_at: float | None = None  # when the first source bytes came (fed runs)
        self._first_pdt: datetime | None = None
        self.segments = 0
        self.bytes_out = 0

    # control -------------------------------------------------------------------------
    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        cmd = ffmpeg_command(source_url=self._source_url, directory=self.directory,
                             segment_s=self._segment_s, bitrate=self._bitrate,
                             ffmpeg=self._ffmpeg)
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE if self._source_url is None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._watcher = threading.Thread(target=self._watch, name=f"live-{self.stream_id[:8]}",
                                         daemon=True)
        self._watcher.start()

    def feed(self, data: bytes) -> bool:
        """Write source audio (any container ffmpeg can probe); False once ffmpeg is gone."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.poll() is not None:
            return False
        with self._feed_lock:
            if self._fed_at is None:
                self._fed_at = time.time()
            try:
                proc.stdin.write(data)
                proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                return False
        return True

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def error(self) -> str:
        """ffmpeg's complaint once it has exited (empty while it runs)."""
        proc = self._proc
        if proc is None or proc.poll() is None:
            return ""
        if self._error is None:
            self._error = ""
            if proc.stderr is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._error = proc.stderr.read().decode(errors="replace").strip()[-300:]
                proc.stderr.close()
        return self._error

    def stop(self, timeout: float = 5.0) -> None:
        """End the run: ffmpeg finishes its last segment, the watcher signs it, both exit."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            if proc.stdin is not None:
                with self._feed_lock, contextlib.suppress(OSError):
                    proc.stdin.close()
            else:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._watcher is not None:
            self._watcher.join(timeout=timeout)
        self.error()  # read and close its error pipe

    # the watcher -----------------------------------------------------------------------
    def _watch(self) -> None:
        playlist = self.directory / "index.m3u8"
        last_mtime = 0
        proc = self._proc
        assert proc is not None
        while True:
            exited = proc.poll() is not None
            try:
                mtime = playlist.stat().st_mtime_ns
            except FileNotFoundError:
                mtime = 0
            if mtime and mtime != last_mtime:
                last_mtime = mtime
                try:
                    self._sign_new(playlist.read_text(encoding="utf-8"))
                except Exception:  # one bad read must not end the stream's signing
                    log.exception("live %s run %s: playlist not read", self.stream_id, self.run)
            if exited:
                return
            time.sleep(WATCH_INTERVAL_S)

    def _init_sha256(self) -> str | None:
        if self._init_sha is None:
            path = self.directory / INIT_NAME
            if path.exists():
                data = path.read_bytes()
                self._init_sha = hashlib.sha256(data).hexdigest()
                _write_atomic(self.directory / "init.sha256", self._init_sha.encode())
        return self._init_sha

    def _pdt(self, entry: PlaylistEntry) -> datetime:
        """The segment's instant. ffmpeg stamps a run from the wall clock when its muxer
        starts, after probing its input: about a second after the first audio came. A fed run
        is stamped from when its first bytes came instead (the sample clock still counts)."""
        if self._first_pdt is None:  # the run's first segment (seq 0) begins the sample clock
            self._first_pdt = entry.pdt - timedelta(seconds=entry.seq * self._segment_s)
        if self._fed_at is None:
            return entry.pdt
        return datetime.fromtimestamp(self._fed_at, UTC) + (entry.pdt - self._first_pdt)

    def _sign_new(self, text: str) -> None:
        init_sha = self._init_sha256()
        if init_sha is None:
            return
        for entry in parse_playlist(text):
            if entry.seq in self._signed:
                continue
            data = (self.directory / segment_name(entry.seq)).read_bytes()
            descriptor = LiveSegment(
                stream_id=self.stream_id, run=self.run, seq=entry.seq, pdt=self._pdt(entry),
                duration_ms=entry.duration_ms, sha256=hashlib.sha256(data).hexdigest(),
                init_sha256=init_sha)
            _write_atomic(self.directory / descriptor_name(entry.seq),
                          self._signer.seal(descriptor))
            self._signed.add(entry.seq)
            self.segments += 1
            self.bytes_out += len(data)
            if self._on_segment is not None:
                self._on_segment(descriptor)
