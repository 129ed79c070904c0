#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tests/libvirt/in-root.sh ROOT DIR COMMAND [ARG...]
#
# Run COMMAND chrooted into ROOT (a Debian root made by
# mk/libvirt-root.sh), in a mount namespace of its own, so that nothing it
# mounts reaches the host.  DIR (the repository, with its build
# directories and guest assets) is bound at the same path inside, so that
# every path means the same on both sides.  Inside:
#   - /proc, /sys (bound from the host), tmpfs /run and /tmp;
#   - a /dev of its own: null, zero, full, random, urandom and tty copied
#     from the host, a private devpts and /dev/shm;
#   - a stand-in for VFIO.  libvirt writes the arguments of a PCI
#     <hostdev> only on a host that can assign devices: one with an IOMMU
#     group in /sys/kernel/iommu_groups and a /dev/vfio/vfio.  Here that
#     is an empty tmpfs group 0 and a character node 10:196 in the private
#     /dev.  Nothing opens either: no device is assigned, and the test
#     only asks libvirt for arguments (virsh domxml-to-native).
# Needs root.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 ROOT DIR COMMAND [ARG...]" >&2; exit 2; }
root=$(cd "$1" && pwd)
dir=$(cd "$2" && pwd)
shift 2
[ -x "$root/usr/sbin/libvirtd" ] || {
    echo "in-root.sh: $root has no libvirtd (mk/libvirt-root.sh)" >&2
    exit 1
}
[ -d /sys/kernel/iommu_groups ] || {
    echo "in-root.sh: this kernel has no /sys/kernel/iommu_groups to put" \
         "the VFIO stand-in on" >&2
    exit 1
}

# "private" makes the namespace's mounts private.  In a chroot it fails
# ("/" is no mount point there); then the namespace keeps the propagation
# it inherits, which is safe only if a mount made in it does not show in
# this one: tried with an empty tmpfs on a new directory
prop=private
if ! unshare --mount --propagation private true 2> /dev/null; then
    probe=$(mktemp -d)
    seen=$(unshare --mount --propagation unchanged sh -c \
        'mount -t tmpfs in-root-probe "$0" &&
         grep -c "^[^ ]* [^ ]* [^ ]* [^ ]* $0 " "/proc/$1/mountinfo"' \
        "$probe" $$ || true)
    rmdir "$probe"
    if [ "$seen" != 0 ]; then
        echo "in-root.sh: cannot make a private mount namespace here:" \
             "mounts made in a new one show in this one" >&2
        exit 1
    fi
    prop=unchanged
fi

exec unshare --mount --propagation $prop sh -eu -c '
root=$1 dir=$2
shift 2
# the root a mount point, so that a namespace made inside can be private
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount -t tmpfs -o mode=755 iommu "$root/sys/kernel/iommu_groups"
mkdir -p "$root/sys/kernel/iommu_groups/0/devices"
mount -t tmpfs -o mode=755 dev "$root/dev"
for n in null zero full random urandom tty; do
    cp -a "/dev/$n" "$root/dev/$n"
done
mkdir "$root/dev/pts" "$root/dev/shm" "$root/dev/vfio"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs shm "$root/dev/shm"
mknod -m 666 "$root/dev/vfio/vfio" c 10 196
mount -t tmpfs run "$root/run"
mount -t tmpfs tmp "$root/tmp"
mkdir -p "$root$dir"
mount --rbind "$dir" "$root$dir"
exec chroot "$root" "$@"
' in-root "$root" "$dir" "$@"
