#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install what building and testing the series needs, from Debian's archive.
# Does nothing when everything is already installed.
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
# deb-src entries are needed by apt-get source
src_ok=1
grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ || \
    grep -qs '^deb-src ' /etc/apt/sources.list || src_ok=0

[ -z "$missing" ] && [ $src_ok = 1 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "mk/deps.sh: missing packages and not root. Run as root:" >&2
    [ $src_ok = 1 ] || echo "  (and add a deb-src entry for bookworm to /etc/apt/sources.list.d/)" >&2
    echo "  apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi

if [ $src_ok = 0 ]; then
    echo "mk/deps.sh: adding deb-src entries for bookworm"
    cat > /etc/apt/sources.list.d/acpi-gi-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
echo "mk/deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
