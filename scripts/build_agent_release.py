#!/usr/bin/env python3
"""Build an agent release: the agent's wheel at a given version, plus its runtime wheels.

    .venv/bin/python scripts/build_agent_release.py --version 0.1.1 --out /tmp/release-0.1.1

The agent's wheel (``thongtin_coso-<version>-py3-none-any.whl``) holds ``edge_agent``,
``protocol`` and ``media`` (the floor both sides share: the agent uses its pinned-hash install
of speech models): what runs on a device. It is written here with the standard library (a wheel
is a zip with a ``.dist-info``), reproducibly (fixed timestamps, sorted entries): the project
has no build backend configured and the center needs only the files and their SHA-256. The
runtime dependencies' wheels, pinned in requirements.lock, are copied from the wheelhouse that
``scripts/setup.sh`` fills (``.cache/agent-wheels``, for this machine's platform; a Pi needs
its own platform's wheels there). ``release.json`` lists every file with its size and SHA-256,
for the center's release upload.

``--break exit`` builds a release whose agent exits with 1 at once, ``--break unhealthy`` one
that runs but never verifies a manifest: releases an update must roll back from (tests).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WHEELHOUSE = REPO / ".cache" / "agent-wheels"
PACKAGES = ("edge_agent", "protocol", "media")
DISTRIBUTION = "thongtin-coso"
ZIP_TIME = (2020, 1, 1, 0, 0, 0)
VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z]+[0-9]*)?(\.post[0-9]+|\.dev[0-9]+)?$")
# What ``edge_agent`` and ``protocol`` import at run time (speaker, kiosk UI, offline speech),
# with everything those need in turn; versions come from requirements.lock.
AGENT_RUNTIME = (
    "pydantic", "pydantic-core", "annotated-types", "typing-extensions", "typing-inspection",
    "paho-mqtt", "cryptography", "cffi", "pycparser",
    "httpx", "httpcore", "h11", "anyio", "idna", "certifi",
    "starlette", "uvicorn", "click", "jinja2", "markupsafe", "python-multipart",
    "vosk", "requests", "urllib3", "charset-normalizer", "tqdm", "srt", "websockets",
    "installer", "av",
)
BUILT_FROM_SOURCE = ("srt",)  # published as a source archive only: setup.sh builds its wheel
BROKEN_MAIN = '''"""A release broken on purpose (scripts/build_agent_release.py --break exit)."""
import sys

print("edge_agent: this release is broken on purpose (--break exit)", file=sys.stderr)
sys.exit(1)
'''
UNHEALTHY_AT = "    def _handle_manifest(self, raw: bytes) -> None:\n"
UNHEALTHY_PATCH = "        return  # broken on purpose (--break unhealthy): verifies no manifest\n"


class BuildError(Exception):
    pass


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_runtime(lock: Path = REPO / "requirements.lock") -> dict[str, str]:
    """The agent's runtime dependencies with their pinned versions."""
    pins = {}
    for line in lock.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pins[canonical(name)] = version.strip()
    missing = [name for name in AGENT_RUNTIME if name not in pins]
    if missing:
        raise BuildError(f"requirements.lock pins none of {missing}")
    return {name: pins[name] for name in AGENT_RUNTIME}


def _wheel_matches(path: Path, name: str, version: str) -> bool:
    dist, _, rest = path.name.partition("-")
    return canonical(dist) == name and rest.split("-", 1)[0] == version


def dependency_wheels(wheelhouse: Path) -> list[Path]:
    found = []
    for name, version in pinned_runtime().items():
        match = [w for w in sorted(wheelhouse.glob("*.whl")) if _wheel_matches(w, name, version)]
        if not match:
            raise BuildError(f"no wheel of {name}=={version} in {wheelhouse}: run "
                             "scripts/setup.sh (it fills .cache/agent-wheels)")
        found.append(match[0])
    return found


def _sources(broken: str | None) -> dict[str, bytes]:
    """Archive path -> content of every file of the agent's packages."""
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            files[path.relative_to(REPO).as_posix()] = path.read_bytes()
    if broken == "exit":
        files["edge_agent/__main__.py"] = BROKEN_MAIN.encode()
    elif broken == "unhealthy":
        agent = files["edge_agent/agent.py"].decode()
        if agent.count(UNHEALTHY_AT) != 1:
            raise BuildError("edge_agent/agent.py changed: --break unhealthy cannot patch it")
        files["edge_agent/agent.py"] = agent.replace(UNHEALTHY_AT, UNHEALTHY_AT
                                                     + UNHEALTHY_PATCH).encode()
    return files


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_agent_wheel(version: str, out: Path, broken: str | None = None) -> Path:
    if not VERSION.match(version):
        raise BuildError(f"version {version!r} is not of the form 1.2.3 (or 1.2.3rc1, "
                         "1.2.3.post1)")
    files = _sources(broken)
    dist_info = f"thongtin_coso-{version}.dist-info"
    requires = "".join(f"Requires-Dist: {n}=={v}\n" for n, v in pinned_runtime().items())
    summary = "Loudspeaker and kiosk agent" + (f" (broken on purpose: {broken})" if broken
                                               else "")
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: {version}\n"
        f"Summary: {summary}\nRequires-Python: >=3.11\n{requires}").encode()
    files[f"{dist_info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: build_agent_release\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = out / f"thongtin_coso-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return wheel


def describe(paths: list[Path]) -> list[dict[str, object]]:
    return [{"name": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
             "size": p.stat().st_size} for p in paths]


def build_release(version: str, out: Path, wheelhouse: Path = WHEELHOUSE,
                  broken: str | None = None) -> list[Path]:
    """Write the release's wheels and release.json into ``out``; return the wheels."""
    deps = dependency_wheels(wheelhouse)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.whl"):
        stale.unlink()
    wheels = [build_agent_wheel(version, out, broken)]
    for dep in deps:
        shutil.copyfile(dep, out / dep.name)
        wheels.append(out / dep.name)
    (out / "release.json").write_text(json.dumps(
        {"version": version, "files": describe(wheels)}, indent=1) + "\n")
    return wheels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", help="the release's version, e.g. 0.1.1")
    parser.add_argument("--out", type=Path, help="output folder (its wheels are replaced)")
    parser.add_argument("--wheelhouse", type=Path, default=WHEELHOUSE,
                        help=f"runtime dependency wheels (default {WHEELHOUSE})")
    parser.add_argument("--break", dest="broken", choices=("exit", "unhealthy"),
                        help="build a release broken on purpose (rollback tests)")
    parser.add_argument("--print-requirements", choices=("binary", "source"),
                        help="print the pinned runtime requirements setup.sh fetches (wheels "
                             "published as binaries, or built from source) and exit")
    args = parser.parse_args(argv)
    try:
        if args.print_requirements:
            source = args.print_requirements == "source"
            for name, version in pinned_runtime().items():
                if (name in BUILT_FROM_SOURCE) == source:
                    print(f"{name}=={version}")
            return 0
        if not args.version or not args.out:
            parser.error("--version and --out are required")
        wheels = build_release(args.version, args.out, args.wheelhouse, args.broken)
    except BuildError as exc:
        print(f"build_agent_release: {exc}", file=sys.stderr)
        return 1
    total = sum(w.stat().st_size for w in wheels)
    print(f"release {args.version}: {len(wheels)} wheels, {total} bytes in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
