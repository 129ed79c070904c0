#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Show the ACPI tables a guest's firmware gets from the built QEMU, decoded
# by iasl.  The tables come from bios-tables-test cases run in their
# "rebuild" mode in a scratch directory: QEMU boots the firmware under TCG,
# the test reads the tables from guest memory as the firmware laid them out
# and writes them to files.  By default: the SRAT of a GPU-like PCI device
# in 8 generic initiator nodes (as with MIG), and the HMAT of a generic
# initiator node that is the best initiator of a memory node.
#   DEMO_ARCH   x86_64 (default) or aarch64
#   DEMO_CASES  space-separated CASE:TABLE pairs, CASE below /ARCH/acpi/
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$top/.build}
BLD=$B/src/build
arch=${DEMO_ARCH:-x86_64}
case $arch in
x86_64)  machine=q35 ;;
aarch64) machine=virt ;;
*) echo "demo: DEMO_ARCH must be x86_64 or aarch64" >&2; exit 2 ;;
esac
cases=${DEMO_CASES:-$machine/gi-mig:SRAT $machine/gi-hmat:HMAT}

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/tests/data/acpi/$machine" "$W/pc-bios"
ln -s "$BLD/tests/data/uefi-boot-images" "$W/tests/data/uefi-boot-images"
ln -s "$BLD/pc-bios/edk2-aarch64-code.fd" "$BLD/pc-bios/edk2-arm-vars.fd" \
    "$W/pc-bios/"

for ct in $cases; do
    case=/$arch/acpi/${ct%%:*} t=${ct#*:}
    rm -rf "$W/tests/data/acpi/$machine"/*
    echo "demo: ===== $t of $case, on $BLD/qemu-system-$arch (TCG)"
    if ! (cd "$W" && TEST_ACPI_TCG_ONLY=1 TEST_ACPI_REBUILD_AML=1 \
            QTEST_QEMU_BINARY="$BLD/qemu-system-$arch" \
            "$BLD/tests/qtest/bios-tables-test" -p "$case") \
            > "$W/run.log" 2>&1; then
        cat "$W/run.log" >&2
        echo "demo: ERROR: $case failed" >&2
        exit 1
    fi
    echo "QEMU command line:"
    sed -n 's/^# starting QEMU: exec //p' "$W/run.log" |
        grep -v 'machine none' | tail -n 1 | sed 's/ -/\n    -/g; s/^/    /'
    f=$(ls "$W/tests/data/acpi/$machine/$t"* 2>/dev/null | head -n 1)
    [ -n "$f" ] || { echo "demo: no $t table"; continue; }
    (cd "$W" && iasl -d -p "$W/$t" "$f" > /dev/null 2>&1)
    echo "$t as iasl decodes it:"
    if [ "$t" = SRAT ]; then
        # the Generic Initiator Affinity Structures only
        awk '/Subtable Type : 05/,/Reserved2|Reserved1 *: 00000000$/' \
            "$W/$t.dsl" | grep -v '^$' | sed 's/^/    /'
    else
        grep -v '^ \*\|^/\*\|^$' "$W/$t.dsl" | sed 's/^/    /'
    fi
    echo
done
