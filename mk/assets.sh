#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mk/assets.sh PART: fetch and unpack the Debian packages that mk/assets.pins
# lists for PART, at the exact versions it pins, from Debian's archive only.
#   firmware  SeaBIOS, iPXE option ROMs, qemu-system-data and bookworm's
#             AAVMF, unpacked in $B/firmware: the build directory's
#             qemu-bundle/ and pc-bios/ point there (mk/bundle.sh), so the
#             built binaries, the table tests and the qtests never use the
#             host's firmware, whatever version it has;
#   guest     Debian 12's Linux kernels (cloud amd64 for x86 q35, arm64 for
#             Arm virt), Debian 13's Linux 6.12 cloud amd64 kernel (for
#             guests that need SRAT Generic Port Affinity Structures),
#             busybox-static for a small initramfs around tests/guest/init,
#             and trixie's AAVMF; writes $B/guest/assets.env for
#             tests/guest/numa-guest.py;
#   upstream  Debian 13's QEMU 10.0 binaries with every library they need,
#             in $B/upstream (make check-upstream, make bench);
#   meson     the meson a base needs when the host's is too old.
# A private apt configuration under $B/apt does the downloads, so the
# machine's own apt setup and dpkg architectures are left alone, and root
# is not needed.  The .debs are cached in $B/assets/PART and fetched again
# only when the pins change (ASSETS_REFETCH=1 forces it).  A pinned version
# that has left the archive is replaced by the suite's current one, with a
# loud warning; $B/assets/PART/versions always says what is used.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"
part=${1:?usage: mk/assets.sh firmware|guest|upstream|meson}
A=$B/apt
D=$B/assets/$part

say() { echo "assets: $*"; }
die() { echo "assets: ERROR: $*" >&2; exit 1; }

pins=$(awk -v p="$part" -v b="$BASE" '$1 == p || $1 == p "@" b { print $2, $3, $4 }' \
    "$top/mk/assets.pins")
[ -n "$pins" ] || die "no '$part' lines in mk/assets.pins"

. "$top/mk/apt-private.sh"
k=$APT_PRIVATE_KEYRING m=$APT_PRIVATE_MIRROR sm=$APT_PRIVATE_SECMIRROR
SOURCES="deb [signed-by=$k] $m bookworm main
deb [signed-by=$k] $m bookworm-updates main
deb [signed-by=$k] $m bookworm-backports main
deb [signed-by=$k] $sm bookworm-security main
deb [signed-by=$k] $m trixie main
deb [signed-by=$k] $sm trixie-security main"
# bookworm's packages win; trixie (and trixie-security) and backports only
# when asked for by name
PREFERENCES="Package: *
Pin: release n=trixie
Pin-Priority: 100

Package: *
Pin: release n=trixie-security
Pin-Priority: 100

Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100"

# fetch PKG:ARCH VERSION SUITE into the current directory; print the name
# of what was fetched in its place when the pinned version is gone
fetch() {
    pkg=${1%:*} arch=${1##*:} ver=$2 suite=$3
    what=$pkg
    [ "$arch" = all ] || what=$pkg:$arch
    apt_private "$A" apt-get download "$what=$ver" >> download.log 2>&1 && return 0
    # the pinned version has left the archive: the suite's current one;
    # for a kernel whose ABI has moved on, the flavour's current image in
    # the suite (bookworm's linux-image-6.1.0-56-cloud-amd64 and trixie's
    # linux-image-6.12.N+deb13-cloud-amd64 are both flavour cloud-amd64)
    alt=$what
    [ "$suite" = bookworm ] || alt=$what/$suite
    if ! apt_private "$A" apt-cache show "$what" > /dev/null 2>&1; then
        case $pkg in
        linux-image-*)
            flavour=$(echo "$pkg" |
                      sed -E 's/^linux-image-[0-9.]+(\+deb[0-9.]+|-[0-9]+)-//')
            meta=linux-image-$flavour:$arch
            [ "$suite" = bookworm ] || meta=$meta/$suite
            alt=$(apt_private "$A" apt-cache depends "$meta" |
                  awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
            alt=${alt%:"$arch"}
            [ "$arch" = amd64 ] || alt=$alt:$arch
            ;;
        esac
    fi
    [ -n "$alt" ] && apt_private "$A" apt-get download "$alt" >> download.log 2>&1 || {
        cat download.log >&2
        die "cannot fetch $what=$ver (mk/assets.pins), nor $alt"
    }
    {
        echo "assets: WARNING: ***********************************************"
        echo "assets: WARNING: $what=$ver (mk/assets.pins) has left Debian's"
        echo "assets: WARNING: archive: using the current $alt instead."
        echo "assets: WARNING: Tests may see other tables: update the pin."
        echo "assets: WARNING: ***********************************************"
    } >&2
}

mkdir -p "$D"
if [ "${ASSETS_REFETCH:-0}" = 1 ] || [ ! -s "$D/versions" ] ||
   [ "$(cat "$D/pins" 2>/dev/null)" != "$pins" ]; then
    say "apt-get update (private lists in $A)"
    apt_private_update "$A" "$SOURCES" "$PREFERENCES" || die "apt-get update failed"
    rm -rf "$D.tmp"
    mkdir -p "$D.tmp"
    say "fetching the pinned $part packages (mk/assets.pins)"
    echo "$pins" | while read -r p v s; do
        (cd "$D.tmp" && fetch "$p" "$v" "$s")
    done
    if [ "$part" = upstream ]; then
        # every package the binaries need, resolved from nothing (the
        # private dpkg status is empty), from trixie as on a Debian 13 host
        want=$(for deb in "$D.tmp"/*.deb; do
                   dpkg-deb -W --showformat='${Package}=${Version}\n' "$deb"
               done)
        # shellcheck disable=SC2086
        apt_private "$A" apt-get -s -t trixie install --no-install-recommends \
            $want > "$D.tmp/closure.log" 2>&1 ||
            { cat "$D.tmp/closure.log" >&2; die "cannot resolve $want"; }
        sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p' "$D.tmp/closure.log" |
            grep -v -x -F "$want" > "$D.tmp/closure" || true
        say "fetching the $(wc -l < "$D.tmp/closure") packages they depend on"
        # shellcheck disable=SC2046
        (cd "$D.tmp" && apt_private "$A" apt-get download \
            $(cat closure) >> download.log 2>&1) ||
            { cat "$D.tmp/download.log" >&2; die "cannot fetch the closure"; }
        rm -f "$D.tmp/closure.log"
    fi
    for deb in "$D.tmp"/*.deb; do
        dpkg-deb -W --showformat='${Package}:${Architecture} ${Version}\n' \
            "$deb"
    done > "$D.tmp/versions"
    echo "$pins" > "$D.tmp/pins"
    rm -rf "$D"
    mv "$D.tmp" "$D"
    rm -rf "$B/$part"     # unpack again below
fi

# unpack DIR DEB...: once per fetch
unpack() {
    d=$1
    shift
    [ -d "$d" ] && return 0
    rm -rf "$d.tmp"
    mkdir -p "$d.tmp"
    for deb in "$@"; do
        dpkg-deb -x "$deb" "$d.tmp"
    done
    # no modules: the initramfs has none (trixie's kernels keep them in
    # usr/lib/modules)
    rm -rf "$d.tmp/lib/modules" "$d.tmp/usr/lib/modules" "$d.tmp/usr/share/doc"
    mv "$d.tmp" "$d"
}

if [ "$part" = meson ]; then
    unpack "$B/meson" "$D"/*.deb
    say "meson in $B/meson: $(cat "$D/versions")"
    exit 0
fi

if [ "$part" = upstream ]; then
    U=$B/upstream
    unpack "$U/root" "$D"/*.deb
    ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
    ld=$(cd "$U/root" && ls usr/lib/"$ma"/ld-linux*.so.* | head -n 1)
    [ -n "$ld" ] || die "no dynamic loader in $U/root"
    # for the tools that run them without the wrappers below (mk/bench.py
    # runs the loader under valgrind)
    cat > "$U/env" <<ENV
# written by mk/assets.sh upstream
UPSTREAM_ROOT=$U/root
UPSTREAM_LOADER=$U/root/$ld
UPSTREAM_LIBRARY_PATH=$U/root/usr/lib/$ma:$U/root/lib/$ma
UPSTREAM_MODULE_DIR=$U/root/usr/lib/$ma/qemu
UPSTREAM_FIRMWARE=$U/root/usr/share/qemu:$U/root/usr/share/seabios:$U/root/usr/lib/ipxe/qemu
ENV
    mkdir -p "$U/bin"
    for t in x86_64 aarch64; do
        cat > "$U/bin/qemu-system-$t" <<WRAP
#!/bin/sh
# written by mk/assets.sh upstream: Debian 13's qemu-system-$t with its own
# loader and libraries.  Debian's QEMU is not relocatable: its modules and
# firmware are found here, not in /usr (firmware given with -L before
# these is used first)
R=$U/root
export QEMU_MODULE_DIR=\$R/usr/lib/$ma/qemu
exec "\$R/$ld" --library-path "\$R/usr/lib/$ma:\$R/lib/$ma" \\
    "\$R/usr/bin/qemu-system-$t" "\$@" -L "\$R/usr/share/qemu" \\
    -L "\$R/usr/share/seabios" -L "\$R/usr/lib/ipxe/qemu"
WRAP
        chmod 0755 "$U/bin/qemu-system-$t"
    done
    say "upstream QEMU in $U/bin: $(grep '^qemu-system-x86' "$D/versions")"
    exit 0
fi

if [ "$part" = firmware ]; then
    unpack "$B/firmware" "$D"/*.deb
    say "firmware in $B/firmware: $(awk '{ printf "%s%s %s", s, $1, $2; s = ", " }' "$D/versions")"
    exit 0
fi

G=$B/guest
mkdir -p "$G"
unpack "$G/amd64" "$D"/linux-image-6.1.0-*_amd64.deb \
    "$D"/busybox-static_*_amd64.deb
# trixie's Linux 6.12, for guests that need SRAT Generic Port Affinity
# Structures; it boots the same initramfs (no modules: the cloud kernel has
# virtio, the 8250 console and the initramfs support built in)
unpack "$G/amd64-6.12" "$D"/linux-image-6.12.*_amd64.deb
unpack "$G/arm64" "$D"/linux-image-*_arm64.deb "$D"/busybox-static_*_arm64.deb
unpack "$G/firmware" "$D"/qemu-efi-aarch64_*.deb
# keep the two images the guests use (the others are 64 MiB each)
find "$G/firmware/usr/share/AAVMF" -name '*.fd' ! -name AAVMF_CODE.no-secboot.fd \
    ! -name AAVMF_VARS.fd -delete

# one initramfs per architecture: busybox and tests/guest/init
host_bb=$G/$(dpkg --print-architecture)/bin/busybox
[ -x "$host_bb" ] || host_bb=$(command -v busybox || true)
[ -n "$host_bb" ] || die "no busybox to run cpio"
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
# written by mk/assets.sh guest from: $(awk '{ printf "%s=%s ", $1, $2 }' "$D/versions")
KERNEL_x86_64=$(kernel amd64)
KERNEL612_x86_64=$(kernel amd64-6.12)
INITRD_x86_64=$G/initrd-amd64.cpio
KERNEL_aarch64=$(kernel arm64)
INITRD_aarch64=$G/initrd-arm64.cpio
FIRMWARE_aarch64=$G/firmware/usr/share/AAVMF/AAVMF_CODE.no-secboot.fd
VARS_aarch64=$G/firmware/usr/share/AAVMF/AAVMF_VARS.fd
ENV
say "guest assets in $G: $(awk '{ printf "%s%s %s", s, $1, $2; s = ", " }' "$D/versions")"
