#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make check-series: does every patch of the generated series ($B/series,
# make series) apply and build on its own?
#
#   1. scripts/checkpatch.pl over every patch of the series;
#   2. a git repository of the pristine base ($B/base, the unpacked Debian
#      source package, committed as is), made once in $B/check-series/src;
#   3. back to the pristine commit, then for each patch in order: git am,
#      and ninja qemu-system-x86_64, qemu-system-aarch64 and every qtest
#      program of the build, configured as mk/configure.sh configures
#      .build/src (with ccache); the first patch that does not apply or
#      build stops the run, named;
#   4. the tree after the last patch must be .build/src, file for file.
#
# The build directory ($B/check-series/src/build) is kept from one run to
# the next, so a run rebuilds what the patches change.  Logs per patch in
# $B/check-series/log.  CHECK_SERIES_BUILD=0 skips the builds (git am and
# the comparison only).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"
FIRMWAREPATH=$1
S=$B/check-series
SRC=$S/src
LOG=$S/log
SERIES=$B/series
BUILD=${CHECK_SERIES_BUILD:-1}
# git's behaviour must not depend on the caller's configuration
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_COMMITTER_NAME=check-series GIT_COMMITTER_EMAIL=check-series@localhost

say() { echo "check-series: $*"; }
die() { echo "check-series: FAIL: $*" >&2; exit 1; }
now() { date +%s; }

[ -f "$SERIES/series" ] || die "no $SERIES/series: run make series"
t_start=$(now)
rm -rf "$LOG"
mkdir -p "$LOG"
total=$(grep -c . "$SERIES/series")

# 1. checkpatch ------------------------------------------------------------
cp="$B/src/scripts/checkpatch.pl"
errors=0
warnings=0
while read -r p; do
    l="$LOG/checkpatch-$p.log"
    # a patch of binary files only (expected tables) has no unified diff
    # for checkpatch to read: it would call that an error
    if ! grep -q '^+++ ' "$SERIES/$p"; then
        say "checkpatch $p: binary files only, nothing to check"
        continue
    fi
    perl "$cp" --no-tree "$SERIES/$p" > "$l" 2>&1 || true
    e=$(grep -c '^ERROR' "$l" || true)
    w=$(grep -c '^WARNING' "$l" || true)
    errors=$((errors + e))
    warnings=$((warnings + w))
    if [ "$e" != 0 ] || [ "$w" != 0 ]; then
        say "checkpatch $p: $e errors, $w warnings"
        grep -E '^(ERROR|WARNING)' "$l" | head -n 5 | sed 's/^/    /'
    fi
done < "$SERIES/series"
[ $errors = 0 ] || die "checkpatch: $errors errors in the series (logs in $LOG)"
say "checkpatch: $total patches, 0 errors, $warnings warnings"

# 2. the pristine base as a git repository, once per base version -------
version=$(cat "$B/base/.unpacked")
if [ "$(cat "$S/base.version" 2>/dev/null || true)" != "$version" ]; then
    say "committing the pristine base ($BASE_PACKAGE $version) to $SRC"
    rm -rf "$SRC" "$S/base.version"
    cp -a "$B/base" "$SRC"
    # mk/prepare.sh's marker, not part of the source package
    rm -f "$SRC/.unpacked"
    git -C "$SRC" init -q
    # -f: QEMU's .gitignore ignores *.patch, and debian/patches has them
    git -C "$SRC" add -A -f .
    GIT_AUTHOR_NAME=check-series GIT_AUTHOR_EMAIL=check-series@localhost \
        git -C "$SRC" commit -q -m "Debian $BASE_PACKAGE $version, unpacked"
    git -C "$SRC" tag pristine
    echo "$version" > "$S/base.version"
fi

# 3. back to the pristine base; apply and build patch by patch ------------
git -C "$SRC" am --abort > /dev/null 2>&1 || true
git -C "$SRC" checkout -q -f -B series pristine
# what the last run's patches added, but not the build directory
git -C "$SRC" clean -q -f -d -x -e /build/
if [ "$BUILD" != 0 ]; then
    CONFIGURE_SRC=$SRC "$top/mk/configure.sh" "$FIRMWAREPATH"
fi

n=0
while read -r p; do
    n=$((n + 1))
    t0=$(now)
    if ! git -C "$SRC" am -q "$SERIES/$p" > "$LOG/$p.am" 2>&1; then
        sed 's/^/    /' "$LOG/$p.am" >&2
        git -C "$SRC" am --abort > /dev/null 2>&1 || true
        die "patch $n/$total $p does not apply (git am)"
    fi
    if [ "$BUILD" = 0 ]; then
        say "$n/$total $p: applies"
        continue
    fi
    l="$LOG/$p.build"
    # regenerate build.ninja if meson files changed, then list the qtests
    if ! ninja -C "$SRC/build" build.ninja > "$l" 2>&1; then
        tail -n 30 "$l" | sed 's/^/    /' >&2
        die "patch $n/$total $p does not configure (meson; log: $l)"
    fi
    qtests=$(ninja -C "$SRC/build" -t targets all |
             sed -n 's#^\(tests/qtest/[^/:]*\): c_LINKER$#\1#p' | sort -u)
    # shellcheck disable=SC2086
    if ! ninja -C "$SRC/build" qemu-system-x86_64 qemu-system-aarch64 \
            $qtests >> "$l" 2>&1; then
        grep -E -A3 'error:|FAILED:' "$l" | head -n 30 | sed 's/^/    /' >&2
        die "patch $n/$total $p does not build (ninja; log: $l)"
    fi
    nw=$(grep -c 'warning:' "$l" || true)
    compiled=$(grep -c '^\[[0-9]*/[0-9]*\] Compiling' "$l" || true)
    say "$n/$total $p: applies, builds ($((${compiled})) compiled," \
        "$(echo "$qtests" | grep -c .) qtests, $nw warnings, $(($(now) - t0)) s)"
    if [ "$nw" != 0 ]; then
        grep 'warning:' "$l" | sort -u | head -n 5 | sed 's/^/    /'
    fi
done < "$SERIES/series"

# 4. the tree after the series is .build/src ------------------------------
git -C "$SRC" diff --name-only pristine HEAD | LC_ALL=C sort > "$LOG/changed"
LC_ALL=C sort "$B/managed.list" > "$LOG/managed"
# managed files the series leaves as in the base (a list that comes and
# goes) are not in the diff: compare those too
differ=""
while read -r f; do
    if [ -L "$B/src/$f" ] || [ -L "$SRC/$f" ]; then
        [ "$(readlink "$B/src/$f")" = "$(readlink "$SRC/$f")" ] ||
            differ="$differ $f"
    elif ! cmp -s "$B/src/$f" "$SRC/$f"; then
        differ="$differ $f"
    fi
done < "$LOG/managed"
extra=$(comm -23 "$LOG/changed" "$LOG/managed")
[ -z "$differ" ] || die "after the series, these differ from .build/src:$differ"
[ -z "$extra" ] || die "the series changes files .build/src does not manage: $extra"
say "after $total patches the tree is .build/src ($(grep -c . "$LOG/changed")" \
    "files changed from the base)"
say "done in $(($(now) - t_start)) s"
