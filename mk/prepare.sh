#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Lay out the patched QEMU tree in $B/src:
#   1. fetch the pinned Debian source package (once, cached in $B/dl),
#   2. unpack it into $B/base (pristine, never modified) and copy to $B/src,
#   3. overlay the repository's files that sit at QEMU paths,
#   4. apply patches/series strictly (no fuzz): a failing patch stops here.
# Files in $B/src are only rewritten when their content changes, so ninja
# rebuilds only what a change touches.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"

say() { echo "prepare: $*"; }
die() { echo "prepare: ERROR: $*" >&2; exit 1; }

mkdir -p "$B/dl"

# 1. fetch -----------------------------------------------------------------
# With a private apt configuration in $B/dl/apt that lists the base
# suite's sources (the host's apt configuration is neither read nor
# changed, so a Debian 12 host fetches Debian 13's source too)
. "$top/mk/apt-private.sh"
A=$B/dl/apt
if [ ! -f "$B/dl/version" ]; then
    rm -f "$B"/dl/*.dsc
    k=$APT_PRIVATE_KEYRING m=$APT_PRIVATE_MIRROR s=$APT_PRIVATE_SECMIRROR
    apt_private_update "$A" "deb-src [signed-by=$k] $m $BASE_SUITE main
deb-src [signed-by=$k] $m $BASE_SUITE-updates main
deb-src [signed-by=$k] $s $BASE_SUITE-security main" || die "cannot fetch apt's lists"
    # apt's sandbox user must be able to write here
    chmod 0777 "$B/dl" 2>/dev/null || true
    if (cd "$B/dl" && apt_private "$A" apt-get source --download-only \
            "$BASE_PACKAGE=$BASE_VERSION") >"$B/dl/fetch.log" 2>&1; then
        echo "$BASE_VERSION" > "$B/dl/version"
    else
        cat "$B/dl/fetch.log" >&2
        echo "************************************************************" >&2
        echo "WARNING: $BASE_PACKAGE $BASE_VERSION is not in the archive." >&2
        echo "WARNING: falling back to the current $BASE_SUITE source." >&2
        echo "************************************************************" >&2
        (cd "$B/dl" && apt_private "$A" apt-get source --download-only \
            "$BASE_PACKAGE/$BASE_SUITE") >"$B/dl/fetch.log" 2>&1 ||
            { cat "$B/dl/fetch.log" >&2; die "cannot fetch $BASE_PACKAGE source"; }
        dsc=$(ls "$B"/dl/*.dsc | head -n 1)
        sed -n 's/^Version: //p' "$dsc" > "$B/dl/version"
    fi
fi
used=$(cat "$B/dl/version")
if [ "$used" != "$BASE_VERSION" ]; then
    echo "WARNING: building on $BASE_PACKAGE $used, not the pinned $BASE_VERSION" >&2
fi

# 2. unpack ----------------------------------------------------------------
if [ ! -f "$B/base/.unpacked" ]; then
    rm -rf "$B/base" "$B/src" "$B/managed.list"
    dsc=$(ls "$B"/dl/*.dsc | head -n 1)
    say "unpacking $(basename "$dsc")"
    dpkg-source -q -x "$dsc" "$B/base" >"$B/dl/unpack.log" 2>&1 ||
        { cat "$B/dl/unpack.log" >&2; die "cannot unpack $dsc"; }
    echo "$used" > "$B/base/.unpacked"
fi
if [ ! -d "$B/src" ]; then
    say "copying base to build tree"
    cp -a "$B/base" "$B/src"
fi

# 3+4. compose the managed files in a scratch tree -------------------------
T=$(mktemp -d "$B/compose.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/tree"

# Overlay: every file or symbolic link under a top-level entry that also
# exists in the base tree (hw/, include/, tests/, docs/, qapi/ ...),
# except the Makefile (mk/overlay-files.sh).
"$top/mk/overlay-files.sh" "$top" "$B/base" > "$T/.overlay"
while read -r f; do
    t=$(base_path "$f")
    if [ -e "$B/base/$t" ] || [ -L "$B/base/$t" ]; then
        die "$t exists in QEMU; change it with a patch in patches/$BASE/, not an overlay"
    fi
    mkdir -p "$T/tree/$(dirname "$t")"
    cp -P "$top/$f" "$T/tree/$t"
    echo "$t"
done < "$T/.overlay" > "$T/.overlay-base"

# Per-base binary files (baseline/BASE/): base files that are stale
# (Debian's stable updates cannot carry binary diffs) replaced by
# regenerated copies, and the expected ACPI tables of the series' own
# test cases, which differ between bases.  See baseline/BASE/README.md.
if [ -d "$BASELINE" ]; then
    (cd "$BASELINE" && find . -type f ! -name README.md | sed 's#^\./##') |
    while read -r f; do
        grep -qx "$f" "$T/.overlay-base" && die "$f is both rebaselined and overlaid"
        mkdir -p "$T/tree/$(dirname "$f")"
        cp "$BASELINE/$f" "$T/tree/$f"
    done
fi

# Files the series touches: start from their base versions.
: > "$T/.patched"
series="$PATCHES/series"
if [ -f "$series" ]; then
    grep -v '^[[:space:]]*\(#\|$\)' "$series" > "$T/.series" || true
    while read -r p; do
        [ -f "$PATCHES/$p" ] || die "patches/$BASE/series names missing patch $p"
        sed -n 's#^+++ b/\([^[:space:]]*\).*#\1#p' "$PATCHES/$p" >> "$T/.patched"
    done < "$T/.series"
    sort -u -o "$T/.patched" "$T/.patched"
    while read -r f; do
        [ -e "$T/tree/$f" ] && continue
        mkdir -p "$T/tree/$(dirname "$f")"
        [ -e "$B/base/$f" ] && cp "$B/base/$f" "$T/tree/$f"
    done < "$T/.patched"
    while read -r p; do
        # a patch whose changes are all new files has no diff here
        grep -q '^--- ' "$PATCHES/$p" || continue
        if ! patch -d "$T/tree" -p1 -F0 -N -s --no-backup-if-mismatch \
                -r - < "$PATCHES/$p" > "$T/patch.log" 2>&1; then
            cat "$T/patch.log" >&2
            die "patch $p does not apply cleanly to $BASE_PACKAGE $used"
        fi
    done < "$T/.series"
fi

# Sync into $B/src: only files whose content changed are written.
# same A B: files with the same bytes, or links with the same target
same() {
    if [ -L "$1" ] || [ -L "$2" ]; then
        [ -L "$1" ] && [ -L "$2" ] && [ "$(readlink "$1")" = "$(readlink "$2")" ]
    else
        cmp -s "$1" "$2"
    fi
}
(cd "$T/tree" && find . \( -type f -o -type l \) | sed 's#^\./##' | sort) \
    > "$T/.managed"
changed=0
while read -r f; do
    if ! same "$T/tree/$f" "$B/src/$f"; then
        mkdir -p "$B/src/$(dirname "$f")"
        rm -f "$B/src/$f"
        cp -P "$T/tree/$f" "$B/src/$f"
        changed=$((changed + 1))
    fi
done < "$T/.managed"
# Files we managed before but no longer do go back to their base state.
if [ -f "$B/managed.list" ]; then
    comm -23 "$B/managed.list" "$T/.managed" | while read -r f; do
        if [ -e "$B/base/$f" ]; then
            cmp -s "$B/base/$f" "$B/src/$f" || cp "$B/base/$f" "$B/src/$f"
        else
            rm -f "$B/src/$f"
        fi
    done
fi
cp "$T/.managed" "$B/managed.list"
say "$(wc -l < "$T/.managed") files from the series, $changed updated"
