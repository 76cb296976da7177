"""Benchmark: the live-audio distribution candidates, each run for real on loopback.

Icecast 2.4 (Debian's icecast2), Snapcast 0.26 (snapserver/snapclient) and the reference, ffmpeg
writing HLS (fMP4 segments of 0.5 s, Opus 24 kbps, EXT-X-PROGRAM-DATE-TIME): each real server
runs on free loopback ports in a temporary directory, fed by an ffmpeg lavfi source made in real
time (-re): -36 dBFS noise with a 5 ms 1 kHz full-scale click every 2 s (source time 1, 3, 5 s..).
A listener receives it as a device would; ffmpeg (or snapclient) decodes it to PCM, where the
clicks are found. Printed, one figure a line:
  * latency, click injected -> click heard, p50/p95 ("arrival": the decoded click reaches the
    listener; "playout": a player that starts on its first sample and never drops one, so for
    Icecast with the burst a new listener gets); Snapcast: two snapclients and their skew;
  * Icecast: the initial burst at Debian's default burst-size, in bytes and seconds of audio;
  * bytes per minute on the listener link;
  * whether a listener can be made to present a per-session token, and TLS (tried, not assumed);
  * HLS: click injected -> its segment listed in the playlist; the error of the click instant
    derived from EXT-X-PROGRAM-DATE-TIME.
Click k is injected at origin + 1 + 2k, origin = min(read time - source time) over the source's
10 ms packets. Needs ffmpeg, icecast2, snapserver, snapclient and openssl (scripts/setup.sh).

Usage: .venv/bin/python bench/live_engines.py [--seconds 30] [--only icecast,snapcast,hls]
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import http.server
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from array import array
from datetime import datetime
from pathlib import Path
from typing import IO, Any

FS = 48000
THRESHOLD = 0.2 * 32768
TOKEN = "s3ss10n-t0ken"
PROCS: list[subprocess.Popen[bytes]] = []
FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"]
OPUS24 = ["-c:a", "libopus", "-b:a", "24k", "-frame_duration", "20"]


def say(key: str, value: object) -> None:
    print(f"{key}: {value}", flush=True)


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            if (port := int(s.getsockname()[1])) != 8000:
                return port


def spawn(cmd: list[str], **kw: Any) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, **kw)
    PROCS.append(proc)
    return proc


def stop_all() -> None:
    for proc in PROCS:
        proc.terminate()
    for proc in PROCS:
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    PROCS.clear()


def pct(values: list[float], q: float) -> str:
    if not values:
        return "n/a (no click detected)"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.4f} s (n={len(values)})"


class Source(threading.Thread):
    """The mouth: ffmpeg lavfi in real time, relayed to `sink` with each packet's read time."""

    def __init__(self, sink: IO[bytes], channels: int) -> None:
        super().__init__(daemon=True)
        # -36 dBFS noise under the clicks: Opus VBR spends its 24 kbps as on speech, not silence
        expr = "if(lt(mod(t+1\\,2)\\,0.005)\\,0.9*sin(2*PI*1000*t)\\,0.03*(random(0)-0.5))"
        chans = "|".join([expr] * channels)
        self.proc = spawn([*FFMPEG, "-re", "-f", "lavfi", "-i",
                           f"aevalsrc=exprs={chans}:s={FS}:n=480", "-f", "s16le",
                           "-flush_packets", "1", "pipe:1"], stdout=subprocess.PIPE)
        self.sink, self.frame = sink, 2 * channels
        self.origin = float("inf")
        self.start()

    def run(self) -> None:
        assert self.proc.stdout is not None
        fd, done = self.proc.stdout.fileno(), 0
        with contextlib.suppress(OSError, ValueError):
            while data := os.read(fd, 65536):
                self.origin = min(self.origin, time.time() - done / self.frame / FS)
                done += len(data)
                self.sink.write(data)
                self.sink.flush()

    def injected(self, start: float, end: float) -> list[float]:
        return [self.origin + 1 + 2 * k for k in range(400)
                if start <= self.origin + 1 + 2 * k <= end]


class Ear(threading.Thread):
    """The listener: reads decoded s16le, records (read time, first frame) and click frames."""

    def __init__(self, stream: IO[bytes], channels: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.channels = stream, channels
        self.chunks: list[tuple[float, int]] = []
        self.clicks: list[tuple[int, int]] = []  # (frame, index of its chunk)
        self.start()

    def run(self) -> None:
        frames, last, rest = 0, -FS, b""
        with contextlib.suppress(OSError, ValueError):
            while data := os.read(self.stream.fileno(), 65536):
                now, data, rest = time.time(), rest + data, b""
                cut = len(data) - len(data) % (2 * self.channels)
                data, rest = data[:cut], data[cut:]
                samples = array("h", data)
                self.chunks.append((now, frames))
                for i in range(0, len(samples), self.channels):
                    frame = frames + i // self.channels
                    if abs(samples[i]) > THRESHOLD and frame - last > FS:
                        self.clicks.append((frame, len(self.chunks) - 1))
                        last = frame
                frames += len(samples) // self.channels

    def heard(self) -> list[tuple[float, float]]:
        """(arrival, playout) instant of each click; playout: start at the first sample, stall
        (never drop) when a chunk comes later than its turn."""
        out, shift, upto = [], -float("inf"), 0
        for frame, idx in self.clicks:
            for t, first in self.chunks[upto:idx + 1]:
                shift = max(shift, t - first / FS)
            upto = idx + 1
            t, first = self.chunks[idx]
            out.append((t + (frame - first) / FS, frame / FS + shift))
        return out


def by_frame(injected: list[float], heard: list[tuple[int, float]]) -> list[tuple[float, float]]:
    """Latencies of (frame, heard instant) clicks of a contiguous decoded stream: the last one is
    paired with the latest click injected before it, the others by their distance in frames."""
    if not heard or not injected:
        return []
    last_frame, last_t = heard[-1]
    k_last = max(k for k, i in enumerate(injected) if i <= last_t)
    out = []
    for frame, t in heard:
        k = k_last - round((last_frame - frame) / FS / 2)
        if 0 <= k < len(injected):
            out.append((injected[k], t - injected[k]))
    return out


def latest(injected: list[float], heard: float) -> float:
    """Latency of a click heard at `heard` against the latest click injected before it."""
    return heard - max((i for i in injected if i <= heard), default=-float("inf"))


def burst_size() -> int:
    xml = Path("/etc/icecast2/icecast.xml")
    found = re.search(r"<burst-size>(\d+)</burst-size>", xml.read_text()) if xml.exists() else None
    return int(found.group(1)) if found else 65535


class Auth(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, list[str]]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        form = urllib.parse.parse_qs(body)
        Auth.seen.append(form)
        mount = form.get("mount", [""])[0]
        ok = urllib.parse.parse_qs(urllib.parse.urlsplit(mount).query).get("token") == [TOKEN]
        self.send_response(200)
        if ok:
            self.send_header("icecast-auth-user", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def http_get(port: int, path: str, tls: bool = False) -> tuple[socket.socket, str, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        sock = ctx.wrap_socket(sock)
    sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head and (part := sock.recv(4096)):
        head += part
    status, _, rest = head.partition(b"\r\n\r\n")
    return sock, status.split(b"\r\n")[0].decode(errors="replace"), rest


def icecast(tmp: Path, seconds: float) -> None:
    if not shutil.which("icecast2"):
        return say("icecast", "cannot run: icecast2 not installed (scripts/setup.sh)")
    libs = subprocess.run(["ldd", shutil.which("icecast2") or ""], capture_output=True, text=True)
    say("icecast.ldd", [lib for lib in ("libssl", "libcurl") if lib in libs.stdout])
    port, tls_port, burst = free_port(), free_port(), burst_size()
    pem = tmp / "icecast.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(pem), "-out", str(tmp / "c.pem")],
                   check=True, capture_output=True)
    pem.write_bytes(pem.read_bytes() + (tmp / "c.pem").read_bytes())
    auth = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Auth)
    threading.Thread(target=auth.serve_forever, daemon=True).start()
    owner = ""
    if os.geteuid() == 0:  # icecast refuses root; it drops to Debian's icecast2 user itself
        group = grp.getgrgid(pwd.getpwnam("icecast2").pw_gid).gr_name
        owner = f"<changeowner><user>icecast2</user><group>{group}</group></changeowner>"
        os.chmod(tmp, 0o777)
        pem.chmod(0o644)
    lsock = "<listen-socket><bind-address>127.0.0.1</bind-address><port>"
    share = "/usr/share/icecast2"
    (tmp / "icecast.xml").write_text(f"""<icecast><hostname>127.0.0.1</hostname><limits>
<clients>20</clients><queue-size>524288</queue-size><burst-size>{burst}</burst-size></limits>
<authentication><source-password>src</source-password></authentication>
{lsock}{port}</port></listen-socket>{lsock}{tls_port}</port><ssl>1</ssl></listen-socket>
<mount type="normal"><mount-name>/live.opus</mount-name><authentication type="url">
<option name="listener_add" value="http://127.0.0.1:{auth.server_port}/auth"/>
<option name="auth_header" value="icecast-auth-user: 1"/></authentication></mount>
<paths><basedir>{share}</basedir><logdir>{tmp}</logdir><webroot>{share}/web</webroot>
<adminroot>{share}/admin</adminroot><ssl-certificate>{pem}</ssl-certificate></paths>
<logging><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
<security><chroot>0</chroot>{owner}</security></icecast>""")
    try:
        spawn(["icecast2", "-c", str(tmp / "icecast.xml")], stdout=subprocess.DEVNULL)
        time.sleep(1)
        enc = spawn([*FFMPEG, "-f", "s16le", "-ar", str(FS), "-ac", "1", "-i", "pipe:0", *OPUS24,
                     "-f", "ogg", "-page_duration", "100000", "-flush_packets", "1",
                     "-content_type", "audio/ogg",
                     f"icecast://source:src@127.0.0.1:{port}/live.opus"], stdin=subprocess.PIPE)
        src = Source(enc.stdin, 1)  # type: ignore[arg-type]
        time.sleep(burst * 8 / 20000 + 3)  # so that the burst is full
        say("icecast.listener_bad_token", http_get(port, "/live.opus?token=wrong")[1])
        tls, status_tls, _ = http_get(tls_port, "/status-json.xsl", tls=True)
        say("icecast.tls_listener", f"{status_tls} over {tls.version()}")  # type: ignore[attr-defined]
        sock, status, rest = http_get(port, f"/live.opus?token={TOKEN}")
        connected = time.time()
        say("icecast.listener_good_token", status)
        say("icecast.auth_server_saw_mount", Auth.seen[-1].get("mount") if Auth.seen else None)
        dec = spawn([*FFMPEG, "-probesize", "32", "-analyzeduration", "0", "-f", "ogg", "-i",
                     "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(FS), "-flush_packets", "1",
                     "pipe:1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert dec.stdin is not None and dec.stdout is not None
        ear = Ear(dec.stdout, 1)
        got: list[tuple[float, int]] = [(connected, len(rest))]
        dec.stdin.write(rest)
        sock.settimeout(2)
        while time.time() < connected + seconds and (data := sock.recv(65536)):
            got.append((time.time(), len(data)))
            dec.stdin.write(data)
            dec.stdin.flush()
        sock.close()
        time.sleep(0.5)
        burst_bytes = sum(n for t, n in got if t < connected + 0.3)
        burst_frames = max((f for t, f in ear.chunks if t < ear.chunks[0][0] + 0.3), default=0)
        say("icecast.burst_bytes (first 0.3 s after connect)", burst_bytes)
        say("icecast.burst_audio_s (decoded within 0.3 s)", f"{burst_frames / FS:.1f}")
        steady = sum(n for t, n in got if t > connected + 2)
        say("icecast.listener_bytes_per_min (steady)", round(steady * 60 / (seconds - 2)))
        inj = src.injected(0, time.time())
        heard = ear.heard()
        for name, col in (("arrival", 0), ("playout", 1)):
            clicks = [(f, h[col]) for (f, _), h in zip(ear.clicks, heard, strict=True)]
            pairs = by_frame(inj, clicks)
            new = [lat for i, lat in pairs if i > connected]
            say(f"icecast.latency_{name}_p50 (clicks injected after connect)", pct(new, 0.5))
            say(f"icecast.latency_{name}_p95", pct(new, 0.95))
    finally:
        auth.shutdown()
        stop_all()


def proxy(listen: socket.socket, port: int, counts: list[int], delay: tuple[float, float]) -> None:
    """Loopback TCP relay to `port`: counts bytes down (counts[0]) and up (counts[1]) and delays
    them by delay[0] down and delay[1] up, as a 4G link with asymmetric delay would."""
    with contextlib.suppress(OSError):
        client, _ = listen.accept()
        server = socket.create_connection(("127.0.0.1", port))

        def pump(a: socket.socket, b: socket.socket, i: int) -> None:
            queue: list[tuple[float, bytes]] = []
            ready = threading.Condition()

            def send() -> None:
                with contextlib.suppress(OSError):
                    while True:
                        with ready:
                            ready.wait_for(lambda: bool(queue))
                            due, data = queue.pop(0)
                        time.sleep(max(0.0, due - time.time()))
                        b.sendall(data)

            threading.Thread(target=send, daemon=True).start()
            with contextlib.suppress(OSError):
                while data := a.recv(65536):
                    counts[i] += len(data)
                    with ready:
                        queue.append((time.time() + delay[i], data))
                        ready.notify()

        threading.Thread(target=pump, args=(client, server, 1), daemon=True).start()
        pump(server, client, 0)


def snapcast(tmp: Path, seconds: float) -> None:
    if not (shutil.which("snapserver") and shutil.which("snapclient")):
        return say("snapcast", "cannot run: snapserver/snapclient not installed (scripts/setup.sh)")
    libs = subprocess.run(["ldd", shutil.which("snapserver") or ""], capture_output=True, text=True)
    say("snapcast.ldd_openssl", "yes" if "libssl" in libs.stdout else "no (no TLS in this build)")
    stream, tcp, http_port = free_port(), free_port(), free_port()
    fifo = tmp / "snapfifo"
    (tmp / "snapserver.conf").write_text("")
    try:
        spawn(["snapserver", "-c", str(tmp / "snapserver.conf"), f"--server.datadir={tmp}",
               f"--stream.port={stream}", "--stream.bind_to_address=127.0.0.1",
               f"--tcp.port={tcp}", "--tcp.bind_to_address=127.0.0.1",
               f"--http.port={http_port}", "--http.bind_to_address=127.0.0.1",
               f"--stream.source=pipe://{fifo}?name=live&mode=create",
               "--stream.sampleformat=48000:16:2", "--stream.codec=opus:BITRATE:24000",
               "--stream.buffer=1000", "--logging.sink=null"], stdout=subprocess.DEVNULL)
        for _ in range(50):
            if fifo.exists():
                break
            time.sleep(0.1)
        else:
            return say("snapcast", "cannot run: snapserver made no pipe source")
        with open(fifo, "wb") as sink:  # snapserver reads the other end
            src = Source(sink, 2)
            counts, ears = [[0, 0], [0, 0]], list[Ear]()
            for name, delay in (("a", (0.0, 0.0)), ("b", None), ("c", (0.02, 0.08))):
                port = stream
                if delay is not None:  # through a relay: a counts bytes, c is the 4G-like link
                    listen = socket.create_server(("127.0.0.1", 0))
                    port = listen.getsockname()[1]
                    threading.Thread(target=proxy, args=(listen, stream, counts[len(ears) // 2],
                                                         delay), daemon=True).start()
                client = spawn(["snapclient", "-h", "127.0.0.1", "-p", str(port), "--hostID",
                                f"bench-{name}", "--instance", str(len(ears) + 1), "--player",
                                "file:filename=stdout", "--logsink", "null"],
                               stdout=subprocess.PIPE)
                ears.append(Ear(client.stdout, 2))  # type: ignore[arg-type]
            started = time.time()
            time.sleep(seconds)
            say("snapcast.listener_bytes_per_min (down, through a counting relay)",
                round(counts[0][0] * 60 / seconds))
            say("snapcast.listener_bytes_per_min (up)", round(counts[0][1] * 60 / seconds))
            say("snapcast.unauthenticated_client_b_got_audio", bool(ears[1].chunks))
            inj = src.injected(started + 5, time.time())
            # snapclient paces its file player itself: a chunk is written 10 ms before it is due
            heard = [[a + 0.01 for a, _ in ear.heard() if a > started + 5] for ear in ears]
            for name, times in zip("abc", heard, strict=True):
                lat = [x for x in (latest(inj, t) for t in times) if x < 2]
                say(f"snapcast.client_{name}.latency_p50", pct(lat, 0.5))
                say(f"snapcast.client_{name}.latency_p95", pct(lat, 0.95))
            for name, note, other in (("a_b", "same link", heard[0]),
                                      ("c_b", "c: 20 ms down, 80 ms up", heard[2])):
                skew = [min((t - u for u in heard[1]), key=abs) for t in other if heard[1]]
                say(f"snapcast.skew_{name}_p50 ({note})", pct(skew, 0.5))
                say(f"snapcast.skew_{name}_max_abs", pct([abs(x) for x in skew], 1.0))
    finally:
        stop_all()


def hls(tmp: Path, seconds: float) -> None:
    out = tmp / "hls"
    out.mkdir()
    try:
        enc = spawn([*FFMPEG, "-f", "s16le", "-ar", str(FS), "-ac", "1", "-i", "pipe:0", *OPUS24,
                     "-f", "hls", "-hls_time", "0.5", "-hls_segment_type", "fmp4",
                     "-hls_list_size", "0", "-hls_flags", "program_date_time+independent_segments",
                     str(out / "live.m3u8")], stdin=subprocess.PIPE)
        src = Source(enc.stdin, 1)  # type: ignore[arg-type]
        started, listed = time.time(), dict[str, float]()
        while time.time() < started + seconds:  # a device polling the playlist every 10 ms
            with contextlib.suppress(FileNotFoundError):
                for name in re.findall(r"^(\S+\.m4s)$", (out / "live.m3u8").read_text(), re.M):
                    listed.setdefault(name, time.time())
            time.sleep(0.01)
        playlist = (out / "live.m3u8").read_text()
        entries = re.findall(r"#EXTINF:([\d.]+),\s+#EXT-X-PROGRAM-DATE-TIME:(\S+)\s+(\S+)",
                             playlist)
        media = b"".join((out / n).read_bytes() for _, _, n in entries)
        init = (out / "init.mp4").read_bytes()
        say("hls.target_duration_line", re.findall(r"#EXT-X-TARGETDURATION:\S+", playlist))
        say("hls.listener_bytes_per_min (media segments)",
            round(len(media) * 60 / sum(float(d) for d, _, _ in entries)))
        say("hls.init_segment_bytes", len(init))
        window = len(playlist.split("#EXTINF")[0]) + sum(
            len(f"#EXTINF:{d},\n#EXT-X-PROGRAM-DATE-TIME:{p}\n{n}\n") for d, p, n in entries[-6:])
        say("hls.playlist_bytes_per_fetch (6-segment window)", window)
        say("hls.listener_bytes_per_min (+ one playlist fetch a segment, no HTTP headers)",
            round((len(media) + window * len(entries)) * 60 / sum(float(d) for d, _, _ in entries)))
        dec = subprocess.run([*FFMPEG, "-f", "mp4", "-i", "pipe:0", "-f", "s16le", "-ac", "1",
                              "pipe:1"], input=init + media, capture_output=True, check=True)
        samples = array("h", dec.stdout[: len(dec.stdout) // 2 * 2])
        starts = [sum(float(d) for d, _, _ in entries[:j]) for j in range(len(entries))]
        avail, pdt_err, last = [], [], -FS
        inj = src.injected(started, time.time())
        for i, v in enumerate(samples):
            if abs(v) <= THRESHOLD or i - last < FS:
                continue
            last = i
            j = max(j for j, t in enumerate(starts) if t <= i / FS)
            at = listed.get(entries[j][2], float("inf"))
            if (lat := latest(inj, at)) < 2:
                avail.append(lat)
                pdt = datetime.fromisoformat(entries[j][1]).timestamp() + i / FS - starts[j]
                pdt_err.append(pdt - (at - lat))
        say("hls.latency_injected_to_segment_listed_p50", pct(avail, 0.5))
        say("hls.latency_injected_to_segment_listed_p95", pct(avail, 0.95))
        say("hls.program_date_time_error_p50 (click instant from PDT - injected)",
            pct(pdt_err, 0.5))
        say("hls.program_date_time_error_max", pct([abs(e) for e in pdt_err], 1.0))
    finally:
        stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=30, help="listening time per candidate")
    parser.add_argument("--only", default="icecast,snapcast,hls")
    args = parser.parse_args()
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout
    say("ffmpeg", version[:20])
    runs = {"icecast": icecast, "snapcast": snapcast, "hls": hls}
    try:
        for name in args.only.split(","):
            with tempfile.TemporaryDirectory(prefix=f"live-{name}-") as tmp:
                try:
                    runs[name](Path(tmp), args.seconds)
                except Exception as exc:  # one candidate failing must not hide the others
                    say(name, f"cannot run here: {type(exc).__name__}: {exc}")
    finally:
        stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
