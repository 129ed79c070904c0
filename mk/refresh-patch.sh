#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mk/refresh-patch.sh PATCH FILE...
#
# Rewrite patches/PATCH from your edits in .build/src: the diff of FILE...
# between the base with the patches *before* PATCH in patches/series
# applied, and .build/src with the changes of the patches *after* PATCH
# to FILE taken out (so that a file later patches change too is right).
# The header of an existing PATCH (everything before its first "--- a/"
# line) is kept; a new PATCH gets a header to fill in.  Add a new PATCH to
# patches/series yourself.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"
[ $# -ge 2 ] || { echo "usage: $0 PATCH FILE..." >&2; exit 2; }
name=$1
shift
out="$PATCHES/$name"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/a"

for f in "$@"; do
    [ -f "$B/src/$f" ] || { echo "$0: no file .build/src/$f" >&2; exit 1; }
    mkdir -p "$T/a/$(dirname "$f")"
    [ -f "$B/base/$f" ] && cp "$B/base/$f" "$T/a/$f"
    [ -f "$BASELINE/$f" ] && cp "$BASELINE/$f" "$T/a/$f"
done

# the patches before this one, restricted to the files we diff
grep -v '^[[:space:]]*\(#\|$\)' "$PATCHES/series" | while read -r p; do
    [ "$p" = "$name" ] && break
    patch -d "$T/a" -p1 -F0 -N -s --no-backup-if-mismatch -r - \
        < "$PATCHES/$p" > /dev/null 2>&1 || true
done

if [ -f "$out" ]; then
    sed '/^--- a\//,$d' "$out" > "$T/header"
else
    cat > "$T/header" <<EOF
From: $(git config user.name) <$(git config user.email)>
Subject: [PATCH] SUBSYSTEM: one line summary

Why the change is needed and what it does.

Signed-off-by: $(git config user.name) <$(git config user.email)>
---
EOF
fi

# The new side: .build/src with the hunks of the patches *after* PATCH
# taken out again (newest first), so that a file later patches change
# too keeps those changes in their own patches
mkdir -p "$T/b"
for f in "$@"; do
    mkdir -p "$T/b/$(dirname "$f")"
    cp "$B/src/$f" "$T/b/$f"
done
grep -v '^[[:space:]]*\(#\|$\)' "$PATCHES/series" |
    sed -n "/^$name\$/,\$p" | sed 1d | tac > "$T/later"
while read -r p; do
    for f in "$@"; do
        awk -v f="$f" '/^--- a\//{on = ($0 == "--- a/" f)} on' \
            "$PATCHES/$p" > "$T/hunks"
        [ -s "$T/hunks" ] || continue
        patch -d "$T/b" -p1 -R -F0 -s --no-backup-if-mismatch -r - \
            < "$T/hunks" > /dev/null 2>&1 || {
            echo "$0: $p's changes to $f do not come out of .build/src/$f;" \
                "refresh $p too, or edit the patches by hand" >&2
            exit 1
        }
    done
done < "$T/later"

cp "$T/header" "$T/new"
for f in "$@"; do
    a="$T/a/$f"
    [ -f "$a" ] || a=/dev/null
    diff -u "$a" "$T/b/$f" |
        sed "1s#^--- .*#--- a/$f#; 2s#^+++ .*#+++ b/$f#" >> "$T/new" || true
done
mv "$T/new" "$out"
echo "refresh-patch: wrote patches/$name"
