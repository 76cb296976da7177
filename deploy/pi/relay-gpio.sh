#!/bin/sh
# Make the amplifier relay's GPIO line usable by the agent, at every service start:
#     relay-gpio.sh LINE LINK
# LINE is the BCM number printed on pinout diagrams (e.g. 17). The kernel's sysfs number is
# the Pi's GPIO chip base plus LINE (the base is 0 on older kernels, 512 or more since 6.6),
# so it is looked up here at each start rather than written down at install time. The line
# is exported, driven low (amplifier off) and its value file linked at LINK, which the agent
# is given as --relay-gpio. It runs as the service user: Raspberry Pi OS's udev rules give
# the group gpio the export file and each exported line (a moment after the export).
# GPIO_SYSFS overrides /sys/class/gpio (for tests).
set -eu

usage() { echo "usage: relay-gpio.sh LINE LINK (LINE: the BCM GPIO number, 0-57)" >&2; exit 2; }
[ $# -eq 2 ] || usage
line=$1
link=$2
case $line in ''|*[!0-9]*) usage ;; esac
[ "$line" -le 57 ] || usage
sysfs=${GPIO_SYSFS:-/sys/class/gpio}
if [ ! -d "$sysfs" ]; then
    echo "relay-gpio: $sysfs is missing: this kernel has no GPIO sysfs (CONFIG_GPIO_SYSFS)" >&2
    exit 1
fi

base=
for chip in "$sysfs"/gpiochip*; do
    [ -r "$chip/label" ] || continue
    case $(cat "$chip/label") in
        pinctrl-bcm2835|pinctrl-bcm2711|pinctrl-bcm2712|pinctrl-rp1)
            base=$(cat "$chip/base"); break ;;
    esac
done
if [ -z "$base" ]; then
    echo "relay-gpio: no Raspberry Pi GPIO chip under $sysfs; assuming base 0" >&2
    base=0
fi
number=$((base + line))
dir=$sysfs/gpio$number
if [ ! -d "$dir" ]; then
    if [ ! -w "$sysfs/export" ]; then
        echo "relay-gpio: $sysfs/export is not writable by $(id -un): is it in the group gpio?" >&2
        exit 1
    fi
    echo "$number" > "$sysfs/export"
fi
tries=0
while [ ! -w "$dir/direction" ] || [ ! -w "$dir/value" ]; do  # udev hands it to gpio
    tries=$((tries + 1))
    if [ "$tries" -gt 50 ]; then
        echo "relay-gpio: $dir is not writable by $(id -un): is it in the group gpio?" >&2
        exit 1
    fi
    sleep 0.1
done
echo low > "$dir/direction"
ln -sfn "$dir/value" "$link"
echo "relay-gpio: BCM $line is $dir, low, linked at $link"
