#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install what building and testing the series needs, from Debian's archive.
# Does nothing when everything is already installed.  The QEMU source is
# fetched with a private apt configuration (mk/prepare.sh): the host's
# sources need no deb-src entry.
set -eu

PKGS="build-essential pkg-config python3 python3-venv dpkg-dev patch
ca-certificates libglib2.0-dev libpixman-1-dev libnuma-dev libfdt-dev
zlib1g-dev libseccomp-dev meson ninja-build flex bison ccache perl bzip2
acpica-tools valgrind"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "mk/deps.sh: missing packages and not root. Run as root:" >&2
    echo "  apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi

echo "mk/deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
