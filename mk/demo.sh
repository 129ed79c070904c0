#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Show the ACPI tables a guest's firmware gets from the built QEMU, decoded
# by iasl.  The tables come from a bios-tables-test case run in its
# "rebuild" mode in a scratch directory: QEMU boots the firmware under TCG,
# the test reads the tables from guest memory as the firmware laid them out
# and writes them to files.
#   DEMO_ARCH  x86_64 (default) or aarch64
#   DEMO_CASE  the test case, default: the machine's default tables
#   DEMO_TABLES  tables to show (default: APIC SRAT HMAT)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$top/.build}
BLD=$B/src/build
arch=${DEMO_ARCH:-x86_64}
case $arch in
x86_64)  case=${DEMO_CASE:-/x86_64/acpi/q35}; machine=q35 ;;
aarch64) case=${DEMO_CASE:-/aarch64/acpi/virt}; machine=virt ;;
*) echo "demo: DEMO_ARCH must be x86_64 or aarch64" >&2; exit 2 ;;
esac
tables=${DEMO_TABLES:-APIC SRAT HMAT}

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/tests/data/acpi/$machine" "$W/pc-bios"
ln -s "$BLD/tests/data/uefi-boot-images" "$W/tests/data/uefi-boot-images"
ln -s "$BLD/pc-bios/edk2-aarch64-code.fd" "$BLD/pc-bios/edk2-arm-vars.fd" \
    "$W/pc-bios/"

echo "demo: running $case on $BLD/qemu-system-$arch (TCG)"
if ! (cd "$W" && TEST_ACPI_TCG_ONLY=1 TEST_ACPI_REBUILD_AML=1 \
        QTEST_QEMU_BINARY="$BLD/qemu-system-$arch" \
        "$BLD/tests/qtest/bios-tables-test" -p "$case") > "$W/run.log" 2>&1
then
    cat "$W/run.log" >&2
    echo "demo: ERROR: $case failed" >&2
    exit 1
fi
echo "demo: QEMU command line:"
sed -n 's/^# starting QEMU: exec //p' "$W/run.log" | grep -v 'machine none' |
    tail -n 1 | sed 's/^/    /'
echo
for t in $tables; do
    f=$(ls "$W/tests/data/acpi/$machine/$t"* 2>/dev/null | head -n 1)
    [ -n "$f" ] || { echo "demo: no $t table"; continue; }
    (cd "$W" && iasl -d -p "$W/$t" "$f" > /dev/null 2>&1)
    echo "demo: ===== $t ====="
    grep -v '^ \*\|^/\*\|^$' "$W/$t.dsl" | sed 's/^/    /'
    echo
done
