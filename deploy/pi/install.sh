#!/usr/bin/env bash
# Install the loudspeaker/kiosk agent on a Raspberry Pi (Raspberry Pi OS / Debian 12), as root.
# Safe to run again: what is already in place is kept.
#
#   sudo deploy/pi/install.sh --release DIR [--center URL [--code CODE | --code-file FILE]]
#
# DIR is an agent release: the folder of wheels scripts/build_agent_release.py writes (one
# thongtin_coso-<version>-py3-none-any.whl, installer-*.whl and the agent's dependencies,
# built for the Pi's architecture). Steps: apt packages; the user tt-agent (groups audio,
# gpio); /opt/tt-agent/releases/<version> (a venv, installed offline from DIR) with `current`
# pointing to it and launch.py beside it; enrolment with a one-time code when --center is
# given; the systemd unit tt-agent.service, enabled and (once enrolled) started.
#
# Exit codes: 0 done; 2 bad usage; 3 unusable release; 4 enrolment refused or failed;
# 1 anything else (the message says what).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=/opt/tt-agent
ETC=/etc/tt-agent
STATE=/var/lib/tt-agent
UNIT_DIR=/etc/systemd/system
SERVICE_USER=tt-agent
APT_PACKAGES=(python3 python3-venv ffmpeg alsa-utils espeak-ng)
BOOT_CODE_FILES=(/boot/firmware/tt-enrol.txt /boot/tt-enrol.txt)
RELAY_LINK=/run/tt-agent/relay
PYTHON=python3
RELEASE="" CENTER="" CODE="" CODE_FILE="" RELAY_LINE=""
DO_APT=1 DO_USER=1 DO_SYSTEMD=1

say() { echo "install: $*"; }
die() { local code=$1; shift; echo "install: $*" >&2; exit "$code"; }

usage() {
    cat <<EOF
usage: install.sh --release DIR [options]

  --release DIR      the agent release to install (a folder of wheels)
  --center URL       enrol with the center at URL (https://...), using:
  --code CODE          a one-time enrolment code, or
  --code-file FILE     a file holding it (default: ${BOOT_CODE_FILES[*]})
  --relay-gpio LINE  the amplifier relay's BCM GPIO number (e.g. 17)
  --root DIR         managed root (default $ROOT)
  --etc DIR          configuration folder (default $ETC)
  --state-dir DIR    the agent's data (default $STATE)
  --unit-dir DIR     where the unit goes (default $UNIT_DIR)
  --python PATH      the Python 3.11+ to build the venv with (default python3)
  --no-apt           do not install apt packages
  --no-user          do not create the user tt-agent nor change owners
  --no-systemd       render the unit into the root only; do not install or start it
EOF
}

need_value() { [[ $# -ge 2 && -n $2 && $2 != --* ]] || die 2 "$1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --release) need_value "$@"; RELEASE=$2; shift 2 ;;
        --center) need_value "$@"; CENTER=$2; shift 2 ;;
        --code) need_value "$@"; CODE=$2; shift 2 ;;
        --code-file) need_value "$@"; CODE_FILE=$2; shift 2 ;;
        --relay-gpio) need_value "$@"; RELAY_LINE=$2; shift 2 ;;
        --root) need_value "$@"; ROOT=$2; shift 2 ;;
        --etc) need_value "$@"; ETC=$2; shift 2 ;;
        --state-dir) need_value "$@"; STATE=$2; shift 2 ;;
        --unit-dir) need_value "$@"; UNIT_DIR=$2; shift 2 ;;
        --python) need_value "$@"; PYTHON=$2; shift 2 ;;
        --no-apt) DO_APT=0; shift ;;
        --no-user) DO_USER=0; shift ;;
        --no-systemd) DO_SYSTEMD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die 2 "unknown option: $1" ;;
    esac
done

# --- the arguments ------------------------------------------------------------------------
[[ -n $RELEASE ]] || { usage >&2; die 2 "--release DIR is required"; }
for path in "$ROOT" "$ETC" "$STATE" "$UNIT_DIR"; do
    # these paths go into the unit file as they are: no spaces or characters systemd quotes
    [[ $path =~ ^/[A-Za-z0-9._+/-]+$ ]] \
        || die 2 "$path: give an absolute path of letters, digits and . _ + - / only"
done
[[ -z $RELAY_LINE || $RELAY_LINE =~ ^[0-9]{1,2}$ ]] \
    || die 2 "--relay-gpio takes a BCM GPIO number (e.g. 17), not '$RELAY_LINE'"
if [[ -n $CODE || -n $CODE_FILE ]] && [[ -z $CENTER ]]; then
    die 2 "--code and --code-file need --center URL"
fi
[[ -z $CODE || -z $CODE_FILE ]] || die 2 "give --code or --code-file, not both"
[[ -z $CENTER || $CENTER =~ ^https?://[^[:space:]]+$ ]] \
    || die 2 "--center must be the center's address, http(s)://..., not '$CENTER'"
if [[ $EUID -ne 0 ]] && ((DO_APT || DO_USER || DO_SYSTEMD)); then
    die 2 "run as root (sudo), or skip the system steps with --no-apt --no-user --no-systemd"
fi

[[ -d $RELEASE ]] || die 3 "release folder $RELEASE does not exist"
RELEASE=$(cd "$RELEASE" && pwd)
shopt -s nullglob
agent_wheels=("$RELEASE"/thongtin_coso-*-py3-none-any.whl)
installer_wheels=("$RELEASE"/installer-*-py3-none-any.whl)
shopt -u nullglob
((${#agent_wheels[@]} == 1)) \
    || die 3 "$RELEASE must hold exactly one thongtin_coso-*.whl (found ${#agent_wheels[@]}):" \
             "build it with scripts/build_agent_release.py"
((${#installer_wheels[@]} >= 1)) \
    || die 3 "$RELEASE has no installer-*.whl: it is not a complete agent release"
AGENT_WHEEL=${agent_wheels[0]}
VERSION=$(basename "$AGENT_WHEEL")
VERSION=${VERSION#thongtin_coso-}
VERSION=${VERSION%%-*}

# --- apt packages -------------------------------------------------------------------------
if ((DO_APT)); then
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        say "installing apt packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi
PYTHON_PATH=$(command -v "$PYTHON") || die 1 "$PYTHON not found (apt-get install python3)"
"$PYTHON_PATH" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die 1 "$PYTHON_PATH is older than Python 3.11"

# --- the service user ---------------------------------------------------------------------
if ((DO_USER)); then
    for group in audio gpio; do  # Raspberry Pi OS has both; plain Debian may lack gpio
        getent group "$group" >/dev/null || groupadd --system "$group"
    done
    if ! id "$SERVICE_USER" >/dev/null 2>&1; then
        say "creating the system user $SERVICE_USER"
        useradd --system --user-group --home-dir "$STATE" --no-create-home \
            --shell /usr/sbin/nologin --groups audio,gpio "$SERVICE_USER"
    else
        usermod --append --groups audio,gpio "$SERVICE_USER"
    fi
fi

# --- the release under the managed root ---------------------------------------------------
mkdir -p "$ROOT" "$ETC" "$STATE"
link_version() { local target; target=$(readlink "$1" 2>/dev/null) || return 0; basename "$target"; }
point() {  # point LINK VERSION: an atomic switch, as the launcher does it
    ln -sfn "releases/$2" "$1.new" && mv -T "$1.new" "$1"
}
release_works() {  # the release's Python imports the agent and reports VERSION
    local reported
    reported=$("$ROOT/releases/$1/bin/python" -I -c \
        'import edge_agent, edge_agent.agent; print(edge_agent.AGENT_VERSION)' 2>/dev/null) \
        && [[ $reported == "$1" ]]
}

current=$(link_version "$ROOT/current")
if [[ $current == "$VERSION" ]] && release_works "$VERSION" && [[ -f $ROOT/launch.py ]]; then
    say "release $VERSION is already installed and current"
else
    force=()
    if [[ -n $current ]]; then
        force=(--force)
        if [[ $current != "$VERSION" && -d $ROOT/releases/$current ]]; then
            point "$ROOT/previous" "$current"  # kept for a rollback, as an update would
        fi
    fi
    [[ $(link_version "$ROOT/previous") != "$VERSION" ]] || rm -f "$ROOT/previous"
    say "installing release $VERSION under $ROOT/releases/$VERSION"
    # The release's own installer (edge_agent.update.install), run from its wheels.
    PYTHONPATH="$AGENT_WHEEL:${installer_wheels[0]}" "$PYTHON_PATH" -m edge_agent.update.install \
        --root "$ROOT" --wheels "$RELEASE" --activate "${force[@]}" \
        || die 3 "release $VERSION could not be installed (above: why)"
fi
[[ -f $ROOT/launch.py ]] || die 3 "release $VERSION installed no launch.py under $ROOT"
install -m 0755 "$HERE/relay-gpio.sh" "$ROOT/relay-gpio.sh"

# --- the unit, with this machine's paths --------------------------------------------------
unit=$ROOT/tt-agent.service
sed -e "s|/opt/tt-agent|$ROOT|g" -e "s|/etc/tt-agent|$ETC|g" \
    -e "s|/var/lib/tt-agent|$STATE|g" -e "s|^ExecStart=/usr/bin/python3 |ExecStart=$PYTHON_PATH |" \
    "$HERE/tt-agent.service" > "$unit.new"
if [[ $STATE != /var/lib/tt-agent ]]; then  # StateDirectory= names a folder of /var/lib only
    sed -i -e '/^StateDirectory/d' "$unit.new"
fi
if [[ -n $RELAY_LINE ]]; then
    sed -i -e "s|^ExecStart=.*|& --relay-gpio $RELAY_LINK|" \
        -e "s|^ExecStart=|ExecStartPre=$ROOT/relay-gpio.sh $RELAY_LINE $RELAY_LINK\n&|" \
        "$unit.new"
fi
mv "$unit.new" "$unit"

# --- enrolment ----------------------------------------------------------------------------
config=$ETC/agent.json
if [[ -n $CENTER ]]; then
    if [[ -f $config ]]; then
        say "$config exists: this device is enrolled already (not enrolling again; to enrol" \
            "it anew: $ROOT/current/bin/python -m edge_agent enrol --force ...)"
    else
        code_args=()
        if [[ -n $CODE ]]; then
            code_args=(--code "$CODE")
        elif [[ -n $CODE_FILE ]]; then
            [[ -r $CODE_FILE ]] || die 2 "cannot read the code file $CODE_FILE"
            code_args=(--code-file "$CODE_FILE")
        else
            for candidate in "${BOOT_CODE_FILES[@]}"; do
                if [[ -r $candidate ]]; then code_args=(--code-file "$candidate"); break; fi
            done
            ((${#code_args[@]})) || die 2 "no enrolment code: give --code CODE, --code-file" \
                "FILE, or put the code in ${BOOT_CODE_FILES[0]}"
        fi
        say "enrolling with $CENTER"
        "$ROOT/current/bin/python" -I -m edge_agent enrol --center "$CENTER" "${code_args[@]}" \
            --config "$config" --data-dir "$STATE" || die 4 "enrolment failed (above: why)"
    fi
fi

# --- owners: the agent updates its own releases and keeps its data; root keeps /etc --------
if ((DO_USER)); then
    chown -R "$SERVICE_USER:$SERVICE_USER" "$ROOT" "$STATE"
    chown "root:$SERVICE_USER" "$ETC"
    chmod 0750 "$ETC" "$STATE"
    if [[ -f $config ]]; then chown "$SERVICE_USER:$SERVICE_USER" "$config"; fi
fi
if [[ -f $config ]]; then chmod 0600 "$config"; fi

# --- systemd ------------------------------------------------------------------------------
if ((DO_SYSTEMD)); then
    [[ -d /run/systemd/system ]] \
        || die 1 "systemd is not running here; use --no-systemd and start the agent yourself"
    install -m 0644 "$unit" "$UNIT_DIR/tt-agent.service"
    systemctl daemon-reload
    systemctl enable tt-agent.service >/dev/null
    if [[ -f $config ]]; then
        systemctl restart tt-agent.service
        say "tt-agent started: systemctl status tt-agent; journalctl -u tt-agent -f"
    else
        say "not enrolled yet: enrol (install.sh --release $RELEASE --center URL --code CODE)," \
            "then it starts; until then the unit stays inactive"
    fi
else
    say "unit rendered at $unit (not installed: --no-systemd)"
fi
say "done: release $VERSION, root $ROOT, config $config, data $STATE"
