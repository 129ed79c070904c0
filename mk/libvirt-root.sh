#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mk/libvirt-root.sh DIR: a minimal Debian 13 (trixie) root in DIR/root
# with the libvirt that mk/assets.pins pins for part "libvirt" (12.9 from
# trixie-backports: it writes generic initiators itself).  The native
# libvirt unit of make check runs in it (tests/libvirt/in-root.sh); the
# host's own libvirt, if any, is neither used nor changed.
#
# Made once with debootstrap --variant=minbase (installed on the host with
# apt-get when missing), then apt-get inside; made again only when the
# pins change.  When a pinned version has left the archive, the suite's
# current one is installed instead, with a loud warning, if it is still
# 11.8 or later.  Needs root.  Logs in DIR.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "libvirt-root: $*"; }
die() { echo "libvirt-root: ERROR: $*" >&2; exit 1; }

[ $# = 1 ] || die "usage: $0 DIR"
D=$1
R=$D/root
MIRROR=${ASSETS_MIRROR:-http://deb.debian.org/debian}
# the pins: "PKG:ARCH VERSION SUITE" lines
pins=$(awk '$1 == "libvirt" { print $2, $3, $4 }' "$top/mk/assets.pins")
[ -n "$pins" ] || die "no 'libvirt' lines in mk/assets.pins"
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"

if [ -x "$R/usr/sbin/libvirtd" ] &&
   [ "$(cat "$D/pins" 2>/dev/null)" = "$pins" ]; then
    exit 0
fi

mkdir -p "$D"
if ! command -v debootstrap > /dev/null; then
    say "installing debootstrap on the host (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends debootstrap > "$D/host-apt.log" 2>&1 ||
        { cat "$D/host-apt.log" >&2; die "apt-get install debootstrap failed"; }
fi
rm -rf "$R" "$D/pins"
say "debootstrap --variant=minbase trixie $R"
debootstrap --variant=minbase trixie "$R" "$MIRROR" > "$D/debootstrap.log" 2>&1 ||
    { tail -n 20 "$D/debootstrap.log" >&2; die "debootstrap failed (log: $D/debootstrap.log)"; }
echo "deb $MIRROR trixie-backports main" > "$R/etc/apt/sources.list.d/backports.list"
# no service starts while packages are installed
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"

# in_root CMD...: CMD in the root, with /proc mounted there while the
# script runs (as debootstrap does; no mount namespace, which a chroot
# cannot always make private: "/" is no mount point there)
mount -t proc proc "$R/proc"
trap 'umount "$R/proc"' EXIT
in_root() {
    chroot "$R" env DEBIAN_FRONTEND=noninteractive "$@"
}
in_root apt-get update -q > "$D/apt.log" 2>&1 ||
    { cat "$D/apt.log" >&2; die "apt-get update in the root failed"; }
exact=$(echo "$pins" | awk '{ p = $1; sub(/:.*/, "", p); printf "%s=%s ", p, $2 }')
# -t: what the pinned packages need from trixie-backports (their own
# libvirt-common, libvirt0...) comes from there too
# shellcheck disable=SC2086
if ! in_root apt-get install -y -q --no-install-recommends \
        -t trixie-backports $exact >> "$D/apt.log" 2>&1; then
    names=$(echo "$pins" | awk '{ p = $1; sub(/:.*/, "", p); printf "%s ", p }')
    {
        echo "libvirt-root: WARNING: *********************************************"
        echo "libvirt-root: WARNING: $exact"
        echo "libvirt-root: WARNING: (mk/assets.pins) cannot be installed: using"
        echo "libvirt-root: WARNING: trixie-backports' current libvirt. Update the pins."
        echo "libvirt-root: WARNING: *********************************************"
    } >&2
    # shellcheck disable=SC2086
    in_root apt-get install -y -q --no-install-recommends -t trixie-backports \
        $names >> "$D/apt.log" 2>&1 ||
        { tail -n 30 "$D/apt.log" >&2; die "apt-get install in the root failed"; }
fi
version=$(in_root dpkg-query -W -f '${Version}' libvirt-daemon)
case $version in
    1[2-9].*|11.[89].*|11.[1-9][0-9].*) ;;
    *) die "the root's libvirt is $version: the native unit needs 11.8 or later" ;;
esac
echo "$pins" > "$D/pins"
say "libvirt $version in $R ($(du -sxh "$R" | cut -f1))"
