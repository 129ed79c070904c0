#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Configure $B/src/build once.  Re-runs configure only when the options
# below change; otherwise ninja's own meson regeneration is enough.
# CONFIGURE_SRC=DIR configures DIR/build instead (make check-series
# does), with its log in DIR/../configure.log.  CONFIGURE_BUILD=NAME
# configures $SRC/NAME, for CONFIGURE_TARGETS (default x86_64 and
# aarch64) with the extra options CONFIGURE_EXTRA, one per line (make
# check-sanitizers does), with its log in configure-NAME.log.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"
SRC=${CONFIGURE_SRC:-$B/src}
BLD=$SRC/${CONFIGURE_BUILD:-build}
LOG=$(dirname "$SRC")/configure${CONFIGURE_BUILD:+-$CONFIGURE_BUILD}.log
FIRMWAREPATH=$1

# ccache: QEMU's configure hands meson an explicit compiler, so meson does
# not add ccache by itself.
opts="--cc=ccache cc
--prefix=/usr/local
--target-list=${CONFIGURE_TARGETS:-x86_64-softmmu,aarch64-softmmu}
--with-pkgversion=$SERIES_NAME, base Debian $BASE_PACKAGE $(cat "$B/dl/version")
--firmwarepath=$FIRMWAREPATH
--enable-numa
--enable-fdt=system
--enable-seccomp
--enable-kvm
--enable-tcg
--disable-docs
--disable-tools
--disable-user
--disable-install-blobs
--disable-werror
$BASE_CONFIGURE${CONFIGURE_EXTRA:+
$CONFIGURE_EXTRA}"

if [ -f "$BLD/.configured" ] && [ "$(cat "$BLD/.configured")" = "$opts" ]; then
    exit 0
fi
# A base that needs a newer meson than the host's (10.0 on Debian 12): the
# pinned package of mk/assets.pins, unpacked in $B/meson, through
# PYTHONPATH for configure and a .pth file in the build's Python venv for
# ninja's later meson runs.  The host's meson is left alone.
mesonpath=
if [ "$BASE_MESON" != host ]; then
    have=$(meson --version 2>/dev/null || echo 0)
    if [ "$(printf '%s\n%s\n' "$BASE_MESON" "$have" | sort -V | head -n 1)" != "$BASE_MESON" ]; then
        "$top/mk/assets.sh" meson
        mesonpath=$B/meson/usr/lib/python3/dist-packages
        [ -d "$mesonpath/mesonbuild" ] || { echo "configure: ERROR: no meson in $B/meson" >&2; exit 1; }
        echo "configure: the host's meson is $have; QEMU $BASE needs >= $BASE_MESON: using $B/meson's"
    fi
fi
echo "configure: configuring QEMU in $BLD"
rm -rf "$BLD"
mkdir -p "$BLD"
cd "$BLD"
# one option per line, spaces inside an option are kept
old_ifs=$IFS
IFS='
'
# shellcheck disable=SC2086
if ! PYTHONPATH=$mesonpath${PYTHONPATH:+:$PYTHONPATH} ../configure $opts > "$LOG" 2>&1; then
    IFS=$old_ifs
    tail -n 30 "$LOG" >&2
    echo "configure: ERROR: see $LOG" >&2
    exit 1
fi
IFS=$old_ifs
if [ -n "$mesonpath" ]; then
    for sp in "$BLD"/pyvenv/lib/python3*/site-packages; do
        echo "$mesonpath" > "$sp/acpi-gi-meson.pth"
    done
fi
echo "$opts" > "$BLD/.configured"
