#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make check-series-debian: the series the Debian way.  In a copy of the
# unpacked source package ($B/base: dpkg-source -x, Debian's own patches
# applied), as a packager would:
#
#   1. add the patches of $B/series-debian (make series) to
#      debian/patches and their series, copy in their binary files and
#      list those in debian/source/include-binaries; quilt push -a;
#   2. dpkg-source -b: a new source package, whose debian tarball carries
#      the binary files; dpkg-source -x of it, which applies Debian's
#      patches and ours.
#
# After 1 and after 2, every file the series manages must be as in
# .build/src (contents, link target, executable bit).  Logs in
# $B/check-series-debian.  Installs quilt with apt-get when missing.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"
D=$B/check-series-debian
KIT=$B/series-debian

say() { echo "check-series-debian: $*"; }
die() { echo "check-series-debian: FAIL: $*" >&2; exit 1; }
now() { date +%s; }

[ -f "$KIT/patches/series" ] || die "no $KIT: run make series"
if ! command -v quilt > /dev/null; then
    if [ "$(id -u)" != 0 ]; then
        echo "check-series-debian: quilt is missing. Run as root:" >&2
        echo "  apt-get install -y --no-install-recommends quilt" >&2
        exit 1
    fi
    say "installing quilt"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends quilt > /dev/null
fi

# same_as_src TREE: every file the series manages is in TREE as in .build/src
same_as_src() {
    bad=""
    while read -r f; do
        a=$B/src/$f
        b=$1/$f
        if [ -L "$a" ] || [ -L "$b" ]; then
            [ "$(readlink "$a")" = "$(readlink "$b")" ] || bad="$bad $f"
        elif ! cmp -s "$a" "$b"; then
            bad="$bad $f"
        elif { [ -x "$a" ] && [ ! -x "$b" ]; } ||
             { [ ! -x "$a" ] && [ -x "$b" ]; }; then
            bad="$bad $f(mode)"
        fi
    done < "$B/managed.list"
    [ -z "$bad" ] || die "in $1, these differ from .build/src:$bad"
}

t_start=$(now)
version=$(cat "$B/base/.unpacked")       # 1:7.2+dfsg-7+deb12u18
noepoch=${version#*:}                    # 7.2+dfsg-7+deb12u18
upstream=${noepoch%-*}                   # 7.2+dfsg
name=$BASE_PACKAGE-$upstream
rm -rf "$D"
mkdir -p "$D"
say "copying the unpacked $BASE_PACKAGE $version to $D/$name"
cp -a "$B/base" "$D/$name"
rm -f "$D/$name/.unpacked"

# 1. quilt ------------------------------------------------------------------
cd "$D/$name"
export QUILT_PATCHES=debian/patches QUILT_PC=.pc
debian_patches=$(quilt applied | wc -l)
say "Debian's $debian_patches patches are applied (quilt top: $(quilt top))"
cp "$KIT"/patches/0*.patch debian/patches/
cat "$KIT/patches/series" >> debian/patches/series
cp -a "$KIT/binaries/." .
cat "$KIT/include-binaries" >> debian/source/include-binaries
t0=$(now)
if ! quilt push -a > "$D/quilt-push.log" 2>&1; then
    tail -n 20 "$D/quilt-push.log" >&2
    die "quilt push -a (log: $D/quilt-push.log)"
fi
say "quilt push -a: $(grep -c '^Applying patch' "$D/quilt-push.log") patches" \
    "applied in $(($(now) - t0)) s, now at $(quilt top)"
same_as_src "$D/$name"
say "the tree is .build/src for all $(grep -c . "$B/managed.list") files the series manages"

# 2. dpkg-source -b, then dpkg-source -x ------------------------------------
cd "$D"
ln -s "$B/dl/${BASE_PACKAGE}_${upstream}.orig.tar.xz" .
t0=$(now)
if ! dpkg-source -b "$name" > "$D/dpkg-source-b.log" 2>&1; then
    tail -n 20 "$D/dpkg-source-b.log" >&2
    die "dpkg-source -b (log: $D/dpkg-source-b.log)"
fi
dsc=${BASE_PACKAGE}_$noepoch.dsc
in_tarball=$(tar -tJf "${BASE_PACKAGE}_$noepoch.debian.tar.xz" |
             grep -c '^tests/' || true)
say "dpkg-source -b: $dsc in $(($(now) - t0)) s; its debian tarball" \
    "carries $in_tarball binary files outside debian/"
t0=$(now)
if ! dpkg-source -x "$dsc" extracted > "$D/dpkg-source-x.log" 2>&1; then
    tail -n 20 "$D/dpkg-source-x.log" >&2
    die "dpkg-source -x (log: $D/dpkg-source-x.log)"
fi
ours=$(grep -c . "$KIT/patches/series")
applied=$(grep -c '^dpkg-source: info: applying ' "$D/dpkg-source-x.log" || true)
say "dpkg-source -x: $applied patches applied ($((applied - ours)) Debian's," \
    "$ours ours) in $(($(now) - t0)) s"
same_as_src "$D/extracted"
say "the extracted tree is .build/src for every file the series manages"
grep -i 'warning' "$D"/dpkg-source-*.log | sed 's/^/  /' || true
say "done in $(($(now) - t_start)) s"
