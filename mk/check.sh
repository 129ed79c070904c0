#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run every test of the series and print one summary line:
#   1. style: the base's scripts/checkpatch.pl over our C files and patches,
#   2. the stock bios-tables-test cases (x86_64: pc, q35, microvm; aarch64:
#      virt) against the expected blobs, every case under TCG,
#   3. our own qtests (QTESTS below, when the series has any).
# Each qtest case runs in its own process (-p), so one failing case does
# not hide the others.  Output of failing cases is kept in $B/check/.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$top/.build}
SRC=$B/src
BLD=$SRC/build
LOG=$B/check
rm -rf "$LOG"
mkdir -p "$LOG"

pass=0
fail=0
skip=0
failed=""

ok()   { pass=$((pass + 1)); echo "  ok    $1"; }
bad()  { fail=$((fail + 1)); failed="$failed $1"; echo "  FAIL  $1  (log: $2)"; }

# 1. style ----------------------------------------------------------------
echo "check: checkpatch"
cp="$SRC/scripts/checkpatch.pl"
# our C files: git's list, or every C file outside .build without git
ours=$(cd "$top" &&
       { git ls-files -co --exclude-standard -- '*.c' '*.h' '*.c.inc' \
             2>/dev/null ||
         find . -path ./.build -prune -o \( -name '*.c' -o -name '*.h' \
             -o -name '*.c.inc' \) -type f -print | sed 's#^\./##'; })
for f in $ours; do
    l="$LOG/checkpatch-$(echo "$f" | tr / _).log"
    if (cd "$top" && perl "$cp" --no-tree -q -f "$f") > "$l" 2>&1; then
        ok "checkpatch $f"
    else
        bad "checkpatch:$f" "$l"
        grep -E '^(ERROR|WARNING)' "$l" | head -n 5 | sed 's/^/        /'
    fi
done
for p in $(grep -v '^[[:space:]]*\(#\|$\)' "$top/patches/series"); do
    l="$LOG/checkpatch-$p.log"
    if perl "$cp" --no-tree -q "$top/patches/$p" > "$l" 2>&1; then
        ok "checkpatch $p"
    else
        bad "checkpatch:$p" "$l"
        grep -E '^(ERROR|WARNING)' "$l" | head -n 5 | sed 's/^/        /'
    fi
done

# 2+3. qtests ---------------------------------------------------------------
# Cases that cannot run here, with the reason printed as a skip.
SKIPS="/aarch64/acpi/virt/acpihmatvirt Debian's AAVMF (bookworm 2022.11 and trixie 2025.02) takes a synchronous exception at start with 64 MiB in the first memory node; QEMU's bundled edk2 does not"

# run_qtest ARCH TEST: every case of TEST for ARCH, each in its own process,
# one result line per case on stdout: "ok|FAIL|skip CASE [LOG|REASON]".
run_qtest() {
    arch=$1 t=$2
    cases=$(cd "$BLD" && QTEST_QEMU_BINARY=./qemu-system-$arch \
            "tests/qtest/$t" -l 2>/dev/null | grep "^/$arch/")
    if [ -z "$cases" ]; then
        echo "FAIL $arch:$t (no test cases listed)"
        return
    fi
    for c in $cases; do
        why=$(echo "$SKIPS" | sed -n "s#^$c ##p")
        if [ -n "$why" ]; then
            echo "skip $c $why"
            continue
        fi
        # -p runs every case below a path: skip the ones below this one
        sub=$(echo "$cases" | grep "^$c/" | sed 's/^/-s /' | tr '\n' ' ')
        l="$LOG/$(echo "$arch-$t$c" | tr / _).log"
        # shellcheck disable=SC2086
        if (cd "$BLD" && TEST_ACPI_TCG_ONLY=1 V=1 \
                QTEST_QEMU_BINARY=./qemu-system-$arch \
                timeout 300 "tests/qtest/$t" -p "$c" $sub) > "$l" 2>&1 &&
           grep -q "^ok [0-9]* $c\$" "$l"; then
            echo "ok $c"
        elif grep -q "^ok [0-9]* $c # SKIP" "$l"; then
            echo "skip $c $(sed -n "s|^ok [0-9]* $c # SKIP *||p" "$l")"
        else
            echo "FAIL $c $l"
        fi
    done
}

# the two architectures in parallel, one core each
for t in ${QTESTS:-bios-tables-test}; do
    echo "check: $t (x86_64 and aarch64)"
    run_qtest x86_64 "$t" > "$LOG/results-x86_64-$t" &
    run_qtest aarch64 "$t" > "$LOG/results-aarch64-$t"
    wait
    for r in "$LOG/results-x86_64-$t" "$LOG/results-aarch64-$t"; do
        while read -r st c rest; do
            case $st in
            ok)   ok "$c" ;;
            skip) skip=$((skip + 1)); echo "  skip  $c: $rest" ;;
            *)    bad "$c" "$rest"
                  [ -f "$rest" ] && tail -n 25 "$rest" | sed 's/^/        /' ;;
            esac
        done < "$r"
    done
done

echo
if [ $fail -ne 0 ]; then
    echo "check: failed:$failed"
fi
echo "check: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
