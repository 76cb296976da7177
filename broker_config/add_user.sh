#!/usr/bin/env bash
# Create or update one Mosquitto user:  add_user.sh PASSWORD_FILE USER PASSWORD
# Only for a broker the center does not manage (TT_BROKER_ACCOUNTS=unmanaged, password files;
# README.md in this folder). A broker with the dynamic-security plugin gets its users from the
# center, or by hand with: mosquitto_ctrl ... dynsec createClient USER -c USER
#   USER is "center" for the control center, or a device id for a loudspeaker or kiosk
#   (the ACL's %u patterns give a device exactly its own topics).
# The password file is created if it does not exist. A running broker only sees the change
# after a reload (SIGHUP); connected clients are not disturbed.
# The password is visible in the process list while mosquitto_passwd runs: use it on the broker
# host, not on a shared machine.
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 PASSWORD_FILE USER PASSWORD" >&2
    exit 2
fi
password_file=$1 user=$2 password=$3

if ! command -v mosquitto_passwd >/dev/null; then
    echo "mosquitto_passwd not found: apt-get install mosquitto" >&2
    exit 1
fi
if [[ ! "$user" =~ ^[a-z0-9][a-z0-9_-]{0,62}$ ]]; then
    echo "invalid user $user: use 1-63 lower-case letters, digits, '-' or '_' (a device id)" >&2
    exit 2
fi

if [[ -f "$password_file" ]]; then
    mosquitto_passwd -b "$password_file" "$user" "$password"
else
    mkdir -p "$(dirname "$password_file")"
    mosquitto_passwd -c -b "$password_file" "$user" "$password"
    # Readable by the broker after it drops to user mosquitto (a reload re-reads it as that
    # user), not by everyone.
    chmod 640 "$password_file"
    if getent group mosquitto >/dev/null; then chgrp mosquitto "$password_file"; fi
fi

echo "user $user written to $password_file"
echo "reload the broker to apply it:  systemctl reload mosquitto" \
     "  (or: kill -HUP <mosquitto pid>; docker compose kill -s HUP mosquitto)"
