#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mk/bundle.sh BUILD-DIR FIRMWAREPATH FIRMWARE-ROOT
#
# A QEMU binary run from its build directory looks for firmware only below
# build/qemu-bundle/.  Point the configured firmware directories there at
# the pinned firmware that mk/assets.sh unpacked in FIRMWARE-ROOT (not at
# the host's /usr/share), so the built binaries and every test use the
# versions mk/assets.pins names.
set -eu
BLD=$1
FIRMWAREPATH=$2
FW=$3
old_ifs=$IFS
IFS=:
for d in $FIRMWAREPATH; do
    [ -d "$FW$d" ] || { echo "bundle: ERROR: $FW$d missing" >&2; exit 1; }
    mkdir -p "$BLD/qemu-bundle$(dirname "$d")"
    ln -sfn "$FW$d" "$BLD/qemu-bundle$d"
done
IFS=$old_ifs

# bios-tables-test boots Arm virt with pc-bios/edk2-aarch64-code.fd and
# pc-bios/edk2-arm-vars.fd relative to the build directory.  Debian's source
# drops those blobs; qemu-efi-aarch64 has the same firmware, padded to the
# 64 MiB flash size.
mkdir -p "$BLD/pc-bios"
ln -sfn "$FW/usr/share/AAVMF/AAVMF_CODE.fd" "$BLD/pc-bios/edk2-aarch64-code.fd"
ln -sfn "$FW/usr/share/AAVMF/AAVMF_VARS.fd" "$BLD/pc-bios/edk2-arm-vars.fd"
