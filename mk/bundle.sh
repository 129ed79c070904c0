#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A QEMU binary run from its build directory looks for firmware only below
# build/qemu-bundle/.  Link the configured firmware directories (Debian's
# packages) there, so the built binaries and the qtests find them.
set -eu
BLD=$1
FIRMWAREPATH=$2
old_ifs=$IFS
IFS=:
for d in $FIRMWAREPATH; do
    [ -d "$d" ] || { echo "bundle: WARNING: firmware dir $d missing" >&2; continue; }
    mkdir -p "$BLD/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$BLD/qemu-bundle$d"
done
IFS=$old_ifs

# bios-tables-test boots Arm virt with pc-bios/edk2-aarch64-code.fd and
# pc-bios/edk2-arm-vars.fd relative to the build directory.  Debian's source
# drops those blobs; qemu-efi-aarch64 has the same firmware, padded to the
# 64 MiB flash size.
mkdir -p "$BLD/pc-bios"
ln -sfn /usr/share/AAVMF/AAVMF_CODE.fd "$BLD/pc-bios/edk2-aarch64-code.fd"
ln -sfn /usr/share/AAVMF/AAVMF_VARS.fd "$BLD/pc-bios/edk2-arm-vars.fd"
