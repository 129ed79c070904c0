#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run every test of the series and print one summary line:
#   1. style: the base's scripts/checkpatch.pl over our C files and patches,
#   2. the stock bios-tables-test cases (x86_64: pc, q35, microvm; aarch64:
#      virt) against the expected blobs, every case under TCG,
#   3. our own qtests (QTEST_JOBS, ARCH:TEST, from the Makefile),
#   4. guest tests: Debian's Linux booted under TCG on x86 q35 and Arm
#      virt with each topology in tests/guest/topologies/, checking what
#      the guest sees (tests/guest/numa-guest.py; assets from
#      mk/guest-assets.sh),
#   5. libvirt: Debian's libvirt 9.0 runs our binaries and a GPU domain
#      with generic initiator nodes (tests/libvirt/libvirt-test.py; root
#      only, it installs libvirt with apt-get; skipped visibly otherwise),
#   6. mk/bench.py at its smallest size, to see that make bench works.
# A case that fails runs again in its own process (-p), so one failing case
# does not hide the others.  Logs are kept in $B/check/.
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

# stage NAME: print how long the previous stage took, start timing NAME
stage() {
    now=$(date +%s)
    if [ -n "${stage_name:-}" ]; then
        echo "check: $stage_name took $((now - stage_t)) s"
    fi
    stage_name=$1
    stage_t=$now
}
ok()   { pass=$((pass + 1)); echo "  ok    $1"; }
bad()  { fail=$((fail + 1)); failed="$failed $1"; echo "  FAIL  $1  (log: $2)"; }

# 1. style ----------------------------------------------------------------
stage checkpatch
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
# CHECK_STYLE_ONLY=1 stops after the style checks.
if [ -n "${CHECK_STYLE_ONLY:-}" ]; then
    QTESTS=none
fi
# Cases that cannot run here, with the reason printed as a skip.
# One per line: "CASE REASON".  None at present.
SKIPS=""

# run_qtest ARCH TEST: every case of TEST for ARCH, one result line per case
# on stdout: "ok|FAIL|skip CASE [LOG|REASON]".  The whole program runs once;
# a case it did not report as passed (a failed assertion ends the program)
# runs again alone, so one failure neither hides nor fails the others.
run_qtest() {
    arch=$1 t=$2
    cases=$(cd "$BLD" && QTEST_QEMU_BINARY=./qemu-system-$arch \
            "tests/qtest/$t" -l 2>/dev/null | grep "^/$arch/")
    if [ -z "$cases" ]; then
        echo "FAIL $arch:$t (no test cases listed)"
        return
    fi
    skipargs=$(echo "$SKIPS" | sed -n "s#^\(/$arch/[^ ]*\) .*#-s \1#p" |
               tr '\n' ' ')
    all="$LOG/$arch-$t.log"
    # shellcheck disable=SC2086
    (cd "$BLD" && TEST_ACPI_TCG_ONLY=1 V=1 \
        QTEST_QEMU_BINARY=./qemu-system-$arch \
        timeout 1200 "tests/qtest/$t" $skipargs) > "$all" 2>&1
    for c in $cases; do
        why=$(echo "$SKIPS" | sed -n "s#^$c ##p")
        if [ -n "$why" ]; then
            echo "skip $c $why"
            continue
        fi
        if grep -q "^ok [0-9]* $c\$" "$all"; then
            echo "ok $c"
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

# Two workers, one per core: the longest job (the first test on x86_64)
# alone, every other job one after the other.
jobs=${QTEST_JOBS:-x86_64:bios-tables-test aarch64:bios-tables-test}
[ "${QTESTS:-}" = none ] && jobs=""
if [ -n "$jobs" ]; then
    set -- $jobs
    first=$1
    shift
    stage qtests
    echo "check: qtests: $first | $*"
    run_qtest "${first%%:*}" "${first#*:}" > "$LOG/results-$first" &
    for j in "$@"; do
        run_qtest "${j%%:*}" "${j#*:}" > "$LOG/results-$j"
    done
    wait
fi
for j in $jobs; do
    echo "check: ${j#*:} (${j%%:*})"
    while read -r st c rest; do
        case $st in
        ok)   ok "$c" ;;
        skip) skip=$((skip + 1)); echo "  skip  $c: $rest" ;;
        *)    bad "$c" "$rest"
              [ -f "$rest" ] && tail -n 25 "$rest" | sed 's/^/        /' ;;
        esac
    done < "$LOG/results-$j"
done

# 4. guest tests -------------------------------------------------------------
if [ -z "${CHECK_STYLE_ONLY:-}" ]; then
    stage "guest tests"
    echo "check: guest tests"
    for arch in x86_64 aarch64; do
        for t in ${GUEST_TOPOLOGIES:-$(cd "$top/tests/guest/topologies" &&
                                       ls *.json | sed 's/\.json$//')}; do
            l="$LOG/guest-$arch-$t.log"
            if python3 "$top/tests/guest/numa-guest.py" --build "$BLD" \
                    --assets "$B/guest/assets.env" --arch "$arch" \
                    --topology "$top/tests/guest/topologies/$t.json" \
                    --keep "$LOG/guest-$arch-$t" --timeout 600 \
                    > "$l" 2>&1; then
                ok "$(tail -n 1 "$l")"
            else
                bad "guest:$arch:$t" "$l"
                tail -n 25 "$l" | sed 's/^/        /'
            fi
        done
    done
fi

# 5. libvirt: Debian's libvirt runs our QEMU (root only; else a visible skip)
if [ -z "${CHECK_STYLE_ONLY:-}" ]; then
    stage libvirt
    echo "check: libvirt"
    l="$LOG/libvirt.log"
    inst=
    [ "$(id -u)" = 0 ] && inst=--install
    python3 "$top/tests/libvirt/libvirt-test.py" --build "$BLD" \
        --assets "$B/guest/assets.env" --workdir "$LOG" --keep $inst \
        > "$l" 2>&1
    rc=$?
    while IFS= read -r line; do
        case "$line" in
            "ok "*)   ok "libvirt: ${line#ok }" ;;
            "FAIL "*) bad "libvirt: ${line#FAIL }" "$l" ;;
            "skip "*) skip=$((skip + 1)); echo "  skip  ${line#skip }" ;;
        esac
    done < "$l"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$l"; then
        bad "libvirt (exit $rc)" "$l"
        tail -n 15 "$l" | sed 's/^/        /'
    fi
fi

# 6. make bench at its smallest size: it runs, nothing is timed ------------
if [ -z "${CHECK_STYLE_ONLY:-}" ]; then
    stage "bench (tiny)"
    echo "check: bench (tiny)"
    l="$LOG/bench-tiny.log"
    if python3 "$top/mk/bench.py" --tiny --build "$BLD" \
            --assets "$B/guest/assets.env" --out "$LOG/bench-tiny.json" \
            > "$l" 2>&1; then
        ok "make bench runs (--tiny)"
    else
        bad "bench:tiny" "$l"
        tail -n 15 "$l" | sed 's/^/        /'
    fi
fi

stage ""
echo
if [ $fail -ne 0 ]; then
    echo "check: failed:$failed"
fi
echo "check: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
