#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fetch and unpack what the guest tests boot, from Debian's archive only:
#   - Debian 12's Linux kernels: the cloud amd64 flavour for x86 q35, the
#     arm64 flavour for Arm virt (linux-image-*, unpacked with dpkg-deb -x)
#   - busybox-static for both, for a small initramfs around tests/guest/init
#   - trixie's qemu-efi-aarch64 (firmware files only, architecture all):
#     bookworm's edk2 2022.11 reports the second NOR flash bank to Linux as
#     RAM that no SRAT entry covers, and arm64 Linux then turns NUMA off
#     ("NUMA: Faking a node"); edk2 2025.02 does not.
# A private apt configuration under $B/guest/apt does the downloads, so
# the machine's own apt setup and dpkg architectures are left alone, and
# root is not needed.  The .debs are cached: once fetched, nothing is
# downloaded again (GUEST_REFETCH=1 refetches the current versions).
# Writes $B/guest/assets.env for tests/guest/numa-guest.py.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$top/.build}
G=$B/guest
MIRROR=${GUEST_MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${GUEST_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p "$G/debs"
if [ "${GUEST_REFETCH:-0}" = 1 ] || ! [ -s "$G/debs/fetched" ]; then
    A=$G/apt
    mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/etc"
    : > "$A/status"
    cat > "$A/etc/sources.list" <<SRC
deb [signed-by=$KEYRING] $MIRROR bookworm main
deb [signed-by=$KEYRING] $MIRROR bookworm-updates main
deb [signed-by=$KEYRING] $SECMIRROR bookworm-security main
deb [signed-by=$KEYRING] $MIRROR trixie main
SRC
    # bookworm's packages win; trixie only when asked for by name
    cat > "$A/etc/preferences" <<PREF
Package: *
Pin: release n=trixie
Pin-Priority: 100
PREF
    mkdir -p "$A/etc/parts" "$A/etc/prefparts"
    set -- -q -o Dir::Etc::SourceList="$A/etc/sources.list" \
        -o Dir::Etc::SourceParts="$A/etc/parts" \
        -o Dir::Etc::Preferences="$A/etc/preferences" \
        -o Dir::Etc::PreferencesParts="$A/etc/prefparts" \
        -o Dir::State::Lists="$A/lists" -o Dir::Cache="$A/cache" \
        -o Dir::State::status="$A/status" \
        -o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
        -o APT::Architectures::=arm64 -o Acquire::Languages=none
    echo "guest-assets: apt-get update (private lists in $A)"
    apt-get "$@" update > "$A/update.log" 2>&1 || {
        cat "$A/update.log" >&2
        echo "guest-assets: ERROR: apt-get update failed" >&2
        exit 1
    }
    # the kernel images the flavour metapackages point to
    kx=$(apt-cache "$@" depends linux-image-cloud-amd64 |
         awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    ka=$(apt-cache "$@" depends linux-image-arm64:arm64 |
         awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    [ -n "$kx" ] && [ -n "$ka" ] || {
        echo "guest-assets: ERROR: no Debian 12 kernel packages found" >&2
        exit 1
    }
    ka=${ka%:arm64}
    rm -f "$G/debs"/*.deb "$G/debs/fetched"
    echo "guest-assets: apt-get download $kx $ka:arm64 busybox-static" \
         "busybox-static:arm64 qemu-efi-aarch64/trixie"
    (cd "$G/debs" && apt-get "$@" download "$kx" "$ka:arm64" \
        busybox-static busybox-static:arm64 qemu-efi-aarch64/trixie) \
        > "$G/debs/download.log" 2>&1 || {
        cat "$G/debs/download.log" >&2
        echo "guest-assets: ERROR: apt-get download failed" >&2
        exit 1
    }
    ls "$G/debs"/*.deb | sed 's#.*/##' > "$G/debs/fetched"
    rm -rf "$G/amd64" "$G/arm64" "$G/firmware"
fi

# unpack once per fetch
unpack() { # DIR DEB-GLOB...
    d=$1
    shift
    [ -d "$G/$d" ] && return 0
    mkdir -p "$G/$d.tmp"
    for deb in "$@"; do
        dpkg-deb -x "$deb" "$G/$d.tmp"
    done
    rm -rf "$G/$d.tmp/lib/modules"     # the guests load no modules
    mv "$G/$d.tmp" "$G/$d"
}
unpack amd64 "$G"/debs/linux-image-*_amd64.deb "$G"/debs/busybox-static_*_amd64.deb
unpack arm64 "$G"/debs/linux-image-*_arm64.deb "$G"/debs/busybox-static_*_arm64.deb
unpack firmware "$G"/debs/qemu-efi-aarch64_*.deb
# keep the two images the guests use (the others are 64 MiB each)
find "$G/firmware/usr/share/AAVMF" -name '*.fd' ! -name AAVMF_CODE.no-secboot.fd \
    ! -name AAVMF_VARS.fd -delete

# one initramfs per architecture: busybox and tests/guest/init
host_bb=$G/$(dpkg --print-architecture)/bin/busybox
[ -x "$host_bb" ] || host_bb=$(command -v busybox || true)
[ -n "$host_bb" ] || { echo "guest-assets: ERROR: no busybox to run cpio" >&2; exit 1; }
for arch in amd64 arm64; do
    out=$G/initrd-$arch.cpio
    if [ -s "$out" ] && [ "$out" -nt "$top/tests/guest/init" ] &&
       [ "$out" -nt "$G/$arch/bin/busybox" ]; then
        continue
    fi
    R=$G/rootfs-$arch
    rm -rf "$R"
    mkdir -p "$R/bin"
    cp "$G/$arch/bin/busybox" "$R/bin/"
    cp "$top/tests/guest/init" "$R/init"
    chmod 0755 "$R/init"
    (cd "$R" && find . | "$host_bb" cpio -o -H newc > "$out.tmp" 2>/dev/null)
    mv "$out.tmp" "$out"
done

kernel() { ls "$G/$1"/boot/vmlinuz-* | head -n 1; }
cat > "$G/assets.env" <<ENV
# written by mk/guest-assets.sh from: $(tr '\n' ' ' < "$G/debs/fetched")
KERNEL_x86_64=$(kernel amd64)
INITRD_x86_64=$G/initrd-amd64.cpio
KERNEL_aarch64=$(kernel arm64)
INITRD_aarch64=$G/initrd-arm64.cpio
FIRMWARE_aarch64=$G/firmware/usr/share/AAVMF/AAVMF_CODE.no-secboot.fd
VARS_aarch64=$G/firmware/usr/share/AAVMF/AAVMF_VARS.fd
ENV
echo "guest-assets: ready, from $(wc -l < "$G/debs/fetched") cached .debs in $G/debs"
