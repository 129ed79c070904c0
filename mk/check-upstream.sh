#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Compare our SRAT Generic Initiator and Generic Port Affinity Structures
# with upstream QEMU's, for the same command lines (make check-upstream;
# optional, needs the network to Debian's archive, not run by make check).
#
# Upstream is QEMU 10.0 from bookworm-backports (qemu-system-x86 and
# qemu-system-arm), unpacked into $B/upstream, never installed.  Each
# bios-tables-test GI case that upstream accepts is run on upstream's
# binary in the test's rebuild mode; then for Arm virt:
#   - the set of GI structures must be byte-identical to ours,
#   - they must sit at the same place among the other SRAT structures.
# Upstream's order of GI structures is not compared: it is hash-table
# order, and ours is sorted by node (see docs/system/generic-initiator.rst).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"
BLD=$B/src/build
U=$B/upstream
say() { echo "check-upstream: $*"; }

if [ ! -x "$U/root/usr/bin/qemu-system-x86_64" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "check-upstream: needs root the first time (apt-get)" >&2
        exit 1
    fi
    if ! apt-cache policy qemu-system-x86 | grep -q bookworm-backports; then
        say "adding bookworm-backports to apt's sources (installs nothing)"
        cat > /etc/apt/sources.list.d/acpi-gi-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        apt-get update -q > /dev/null
    fi
    # libraries upstream's binaries link with, from bookworm itself
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends libcapstone4 libpmem1 librdmacm1 \
        libibverbs1 libslirp0 libvdeplug2 libfuse3-3 libaio1 liburing2 \
        > /dev/null
    rm -rf "$U"
    mkdir -p "$U/dl"
    chmod 0777 "$U/dl"
    (cd "$U/dl" && apt-get download -q \
        qemu-system-x86/bookworm-backports qemu-system-arm/bookworm-backports \
        qemu-system-common/bookworm-backports) > /dev/null
    for d in "$U"/dl/*.deb; do
        dpkg-deb -x "$d" "$U/root"
    done
fi
say "upstream: $("$U/root/usr/bin/qemu-system-x86_64" --version | head -n 1)"

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/tests/data/acpi/q35" "$W/tests/data/acpi/pc" \
    "$W/tests/data/acpi/virt" "$W/pc-bios"
ln -s "$BLD/tests/data/uefi-boot-images" "$W/tests/data/uefi-boot-images"
ln -s "$BLD/pc-bios/edk2-aarch64-code.fd" "$BLD/pc-bios/edk2-arm-vars.fd" \
    "$W/pc-bios/"

fail=0
# gi-hmat is ours only: upstream rejects a GI node as a memory node's
# attached initiator.  Arm virt here; Debian's 10.0 qemu-system-x86_64 has
# no qtest accelerator ("-accel qtest: invalid accelerator"), so q35 is
# compared below through what a Linux guest reads.
for c in virt/gi-mig virt/gi-2dev virt/gi-cpu; do
    m=${c%/*} v=${c#*/}
    arch=x86_64
    [ "$m" = virt ] && arch=aarch64
    if ! (cd "$W" && TEST_ACPI_TCG_ONLY=1 TEST_ACPI_REBUILD_AML=1 \
            QEMU_MODULE_DIR="$U/root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/qemu" \
            QTEST_QEMU_BINARY="$U/root/usr/bin/qemu-system-$arch" \
            "$BLD/tests/qtest/bios-tables-test" -p "/$arch/acpi/$c") \
            > "$W/run.log" 2>&1; then
        tail -n 20 "$W/run.log"
        say "FAIL $c: upstream QEMU did not run it"
        fail=1
        continue
    fi
    ours=$BASELINE/tests/data/acpi/$m/SRAT.$v
    if python3 "$top/mk/srat-gi-compare.py" "$ours" \
            "$W/tests/data/acpi/$m/SRAT.$v"; then
        say "ok   $c"
    else
        say "FAIL $c"
        fail=1
    fi
done

# x86 q35: through a Linux guest, which reads the SRAT upstream built
mkdir -p "$W/bin"
ln -s "$U/root/usr/bin/qemu-system-x86_64" "$W/bin/"
if QEMU_MODULE_DIR="$U/root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/qemu" \
        python3 "$top/mk/srat-gi-compare.py" --guests "$BLD" "$W/bin" \
        "$B/guest/assets.env"; then
    say "ok   q35 (guest view)"
else
    say "FAIL q35 (guest view)"
    fail=1
fi
# generic ports (CXL host bridges), also through a Linux guest
if QEMU_MODULE_DIR="$U/root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/qemu" \
        python3 "$top/mk/srat-gi-compare.py" --ports "$BLD" "$W/bin" \
        "$B/guest/assets.env"; then
    say "ok   q35 generic ports (guest view)"
else
    say "FAIL q35 generic ports (guest view)"
    fail=1
fi
exit $fail
