#!/usr/bin/env bash
# Idempotent set-up on Debian 12 (run as root): apt packages only when missing, then .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# mosquitto: broker; ffmpeg: media; espeak-ng: offline TTS; influxdb: telemetry store
# (Debian ships 1.6, which the v1 HTTP API client speaks); chromium: browser tests.
APT_PACKAGES=(python3 python3-venv mosquitto mosquitto-clients ffmpeg espeak-ng influxdb chromium
              iproute2   # iproute2: the fault suite's network namespaces
              alsa-utils   # alsa-utils: aplay and amixer, the agent's real audio path (tests/pi)
              systemd      # systemd: systemd-analyze verifies the Pi's unit (tests/pi)
              postgresql-15   # the production database; the center suite runs on it too
              icecast2 snapserver snapclient)  # bench/live_engines.py: live-audio candidates
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# A python3 outside Debian's packages (pyenv, a container image) is fine if it has venv.
if [[ " ${missing[*]} " == *" python3 "* || " ${missing[*]} " == *" python3-venv "* ]]; then
    if command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; then
        missing=("${missing[@]/python3-venv/}"); missing=("${missing[@]/python3/}")
    fi
fi
need=()
for pkg in "${missing[@]}"; do [[ -n "$pkg" ]] && need+=("$pkg"); done
if ((${#need[@]})); then
    echo "setup: installing apt packages: ${need[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "setup: apt packages missing (${need[*]}); run as root or install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # The live-audio candidates' services must not run: the bench starts its own servers on free
    # ports. Masked before install (never started at boot) and, unless the machine has its own
    # policy-rc.d, refused to their postinst by a temporary one.
    for svc in icecast2 snapserver snapclient; do
        if [[ " ${need[*]} " == *" $svc "* ]]; then
            mkdir -p /etc/systemd/system && ln -sfn /dev/null "/etc/systemd/system/$svc.service"
        fi
    done
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\ncase " $* " in *icecast2*|*snapserver*|*snapclient*) exit 101;; esac\nexit 0\n' >"$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
    if [[ $(trap -p EXIT) ]]; then rm -f "$policy"; trap - EXIT; fi
fi
# Debian starts system-wide mosquitto (1883), influxd (8086) and PostgreSQL (5432) services on
# install; the project runs its own on free ports and leaves those alone. (postgresql-15 also
# creates the postgres OS user, as whom the tests' throwaway clusters run.)

stamp=.venv/.installed-$(sha256sum requirements.lock | cut -c1-16)
if [[ ! -f "$stamp" ]]; then
    [[ -x .venv/bin/python ]] || python3 -m venv .venv
    # Debian 12's bundled pip (23.0) predates some wheels' metadata; use a pinned newer one.
    .venv/bin/python -m pip install -q pip==26.3
    .venv/bin/python -m pip install -q -r requirements.lock
    rm -f .venv/.installed-*
    touch "$stamp"
fi

# The agent's runtime wheels (.cache/agent-wheels, this machine's platform), from which
# scripts/build_agent_release.py builds agent releases; fetched once per requirements.lock.
wheels=.cache/agent-wheels
wheel_stamp=$wheels/.fetched-$(cat requirements.lock scripts/build_agent_release.py | sha256sum | cut -c1-16)
if [[ ! -f "$wheel_stamp" ]]; then
    mkdir -p "$wheels"
    mapfile -t binary < <(.venv/bin/python scripts/build_agent_release.py --print-requirements binary)
    mapfile -t source < <(.venv/bin/python scripts/build_agent_release.py --print-requirements source)
    .venv/bin/python -m pip download -q --no-deps --only-binary=:all: -d "$wheels" "${binary[@]}"
    if ((${#source[@]})); then  # published as source archives only: built into wheels once
        .venv/bin/python -m pip wheel -q --no-deps -w "$wheels" "${source[@]}"
    fi
    rm -f "$wheels"/.fetched-*
    touch "$wheel_stamp"
fi
