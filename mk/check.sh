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
# After the style checks, stages 2 to 6 are cut into units (one qtest case,
# one guest boot, the libvirt test, the bench) that run CHECK_JOBS at a
# time (default: one per CPU), longest first; every qtest case runs in its
# own process, so one failing case neither hides nor fails the others.
# The results are printed in stage order.  Logs are kept in $B/check/.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$top/.build}
SRC=$B/src
BLD=$SRC/build
LOG=$B/check
TAB=$(printf '\t')

# Units ---------------------------------------------------------------------
# Each unit writes result lines "STATUS<TAB>NAME<TAB>DETAIL" to
# $LOG/units/ID: STATUS ok, FAIL (DETAIL: the log) or skip (the reason).

# qtest_run LOG ARCH TEST CASE...: run the cases in one process.  glib's
# -p runs every case below a path too: pass -p only for cases with no
# ancestor among CASE..., and -s for the cases below them that are not
# among CASE...
qtest_run() {
    l=$1 arch=$2 t=$3
    shift 3
    args=""
    for c; do
        top_case=yes
        for d; do
            case $c in "$d"/*) top_case=no ;; esac
        done
        [ $top_case = yes ] && args="$args -p $c"
        for d in $(grep "^$c/" "$LOG/cases-$arch-$t"); do
            mine=no
            for e; do [ "$d" = "$e" ] && mine=yes; done
            [ $mine = no ] && args="$args -s $d"
        done
    done
    # shellcheck disable=SC2086
    (cd "$BLD" && TEST_ACPI_TCG_ONLY=1 V=1 \
        QTEST_QEMU_BINARY=./qemu-system-$arch \
        timeout 600 "tests/qtest/$t" $args) > "$l" 2>&1
}

# qtest ARCH TEST CASE...: the cases in one process; a case it did not
# report as passed (a failed assertion ends the program) runs again alone,
# so that one failure neither hides nor fails the others
unit_qtest() {
    arch=$1 t=$2
    shift 2
    all="$LOG/$(echo "$arch-$t$1" | tr / _)+$#.log"
    qtest_run "$all" "$arch" "$t" "$@"
    for c; do
        if grep -q "^ok [0-9]* $c\$" "$all"; then
            echo "ok$TAB$c$TAB"
            continue
        fi
        l="$LOG/$(echo "$arch-$t$c" | tr / _).log"
        qtest_run "$l" "$arch" "$t" "$c"
        if grep -q "^ok [0-9]* $c\$" "$l"; then
            echo "ok$TAB$c$TAB"
        elif grep -q "^ok [0-9]* $c # SKIP" "$l"; then
            echo "skip$TAB$c$TAB$(sed -n "s|^ok [0-9]* $c # SKIP *||p" "$l")"
        else
            echo "FAIL$TAB$c$TAB$l"
        fi
    done
}

# guest ARCH TOPOLOGY: one guest boot
unit_guest() {
    arch=$1 t=$2
    l="$LOG/guest-$arch-$t.log"
    if python3 "$top/tests/guest/numa-guest.py" --build "$BLD" \
            --assets "$B/guest/assets.env" --arch "$arch" \
            --topology "$top/tests/guest/topologies/$t.json" \
            --keep "$LOG/guest-$arch-$t" --timeout 600 > "$l" 2>&1; then
        echo "ok$TAB$(tail -n 1 "$l")$TAB"
    else
        echo "FAIL${TAB}guest:$arch:$t$TAB$l"
    fi
}

# libvirt: Debian's libvirt runs our QEMU (root only; else a visible skip)
unit_libvirt() {
    l="$LOG/libvirt.log"
    inst=
    [ "$(id -u)" = 0 ] && inst=--install
    python3 "$top/tests/libvirt/libvirt-test.py" --build "$BLD" \
        --assets "$B/guest/assets.env" --workdir "$LOG" --keep $inst \
        > "$l" 2>&1
    rc=$?
    while IFS= read -r line; do
        case "$line" in
            "ok "*)   echo "ok${TAB}libvirt: ${line#ok }$TAB" ;;
            "FAIL "*) echo "FAIL${TAB}libvirt: ${line#FAIL }$TAB$l" ;;
            "skip "*) echo "skip$TAB${line#skip }$TAB" ;;
        esac
    done < "$l"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$l"; then
        echo "FAIL${TAB}libvirt (exit $rc)$TAB$l"
    fi
}

# bench: make bench at its smallest size: it runs, nothing is timed
unit_bench() {
    l="$LOG/bench-tiny.log"
    if python3 "$top/mk/bench.py" --tiny --build "$BLD" \
            --assets "$B/guest/assets.env" --out "$LOG/bench-tiny.json" \
            > "$l" 2>&1; then
        echo "ok${TAB}make bench runs (--tiny)$TAB"
    else
        echo "FAIL${TAB}bench:tiny$TAB$l"
    fi
}

# --unit ID KIND ARGS...: run one unit (xargs calls this)
if [ "${1:-}" = --unit ]; then
    id=$2
    shift 2
    kind=$1
    shift
    unit_t0=$(date +%s.%N)
    "unit_$kind" "$@" > "$LOG/units/$id.tmp"
    echo "$id $kind $* $(awk "BEGIN { print $(date +%s.%N) - $unit_t0 }")" \
        > "$LOG/units/$id.time"
    mv "$LOG/units/$id.tmp" "$LOG/units/$id"
    exit 0
fi

# Main ----------------------------------------------------------------------
rm -rf "$LOG"
mkdir -p "$LOG/units"

pass=0
fail=0
skip=0
failed=""
start=$(date +%s)

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
echo "check: checkpatch took $(($(date +%s) - start)) s"

# CHECK_STYLE_ONLY=1 stops after the style checks.
if [ -n "${CHECK_STYLE_ONLY:-}" ]; then
    echo
    echo "check: $pass passed, $fail failed, $skip skipped"
    [ $fail -eq 0 ]
    exit
fi

# Cases that cannot run here, with the reason printed as a skip.
# One per line: "CASE REASON".  None at present.
SKIPS=""

# The units, longest first (a list of "ID KIND ARGS"), and the order in
# which their results are printed (a list of "HEADING|ID...")
jobs=${QTEST_JOBS:-x86_64:bios-tables-test aarch64:bios-tables-test}
topologies=${GUEST_TOPOLOGIES:-$(cd "$top/tests/guest/topologies" &&
                                 ls ./*.json | sed 's#^\./##; s/\.json$//')}
: > "$LOG/units.list"
: > "$LOG/order"
echo "libvirt libvirt" >> "$LOG/units.list"
echo "bench bench" >> "$LOG/units.list"
n=0
for arch in aarch64 x86_64; do
    for t in $topologies; do
        echo "guest-$arch-$t guest $arch $t" >> "$LOG/units.list"
    done
done
for j in $jobs; do
    arch=${j%%:*} t=${j#*:}
    (cd "$BLD" && QTEST_QEMU_BINARY=./qemu-system-$arch \
        "tests/qtest/$t" -l 2>/dev/null) | grep "^/$arch/" \
        > "$LOG/cases-$arch-$t"
    ids=""
    if [ ! -s "$LOG/cases-$arch-$t" ]; then
        n=$((n + 1))
        printf 'FAIL\t%s\t%s\n' "$arch:$t (no test cases listed)" \
            "$LOG/cases-$arch-$t" > "$LOG/units/q$n"
        ids="q$n"
    fi
    # cases per unit: UEFI boots on Arm take seconds each, x86 SeaBIOS
    # boots about one; our own cases are short
    case $j in
        aarch64:bios-tables-test) per=2 ;;
        *:bios-tables-test) per=6 ;;
        *) per=100 ;;
    esac
    chunk=""
    k=0
    while read -r c; do
        why=$(echo "$SKIPS" | sed -n "s#^$c ##p")
        if [ -n "$why" ]; then
            n=$((n + 1))
            ids="$ids q$n"
            printf 'skip\t%s\t%s\n' "$c" "$why" > "$LOG/units/q$n"
            continue
        fi
        chunk="$chunk $c"
        k=$((k + 1))
        if [ $k -eq $per ]; then
            n=$((n + 1))
            ids="$ids q$n"
            echo "q$n qtest $arch $t$chunk"
            chunk=""
            k=0
        fi
    done < "$LOG/cases-$arch-$t" > "$LOG/units-$arch-$t"
    if [ -n "$chunk" ]; then
        n=$((n + 1))
        ids="$ids q$n"
        echo "q$n qtest $arch $t$chunk" >> "$LOG/units-$arch-$t"
    fi
    echo "${t} ($arch)|$ids" >> "$LOG/order"
done
# UEFI boots on Arm first: they are the longest cases
for j in $jobs; do
    case $j in aarch64:*) cat "$LOG/units-${j%%:*}-${j#*:}" ;; esac
done >> "$LOG/units.list"
for j in $jobs; do
    case $j in aarch64:*) ;; *) cat "$LOG/units-${j%%:*}-${j#*:}" ;; esac
done >> "$LOG/units.list"
guest_ids=$(for arch in x86_64 aarch64; do
                for t in $topologies; do printf ' guest-%s-%s' "$arch" "$t"
                done
            done)
echo "guest tests|$guest_ids" >> "$LOG/order"
echo "libvirt|libvirt" >> "$LOG/order"
echo "bench (tiny)|bench" >> "$LOG/order"

CHECK_JOBS=${CHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}
echo "check: $(wc -l < "$LOG/units.list") units, $CHECK_JOBS at a time" \
     "(qtests: $jobs; guest tests; libvirt; bench)"
t0=$(date +%s)
xargs -L 1 -P "$CHECK_JOBS" sh "$0" --unit < "$LOG/units.list"
echo "check: units took $(($(date +%s) - t0)) s"

while IFS='|' read -r heading ids; do
    echo "check: $heading"
    for id in $ids; do
        if [ ! -f "$LOG/units/$id" ]; then
            bad "$id (unit did not finish)" "$LOG/units.list"
            continue
        fi
        while IFS="$TAB" read -r st name detail; do
            case $st in
            ok)   ok "$name" ;;
            skip) skip=$((skip + 1)); echo "  skip  $name: $detail" ;;
            *)    bad "$name" "$detail"
                  [ -f "$detail" ] && tail -n 25 "$detail" |
                      sed 's/^/        /' ;;
            esac
        done < "$LOG/units/$id"
    done
done < "$LOG/order"

echo
if [ $fail -ne 0 ]; then
    echo "check: failed:$failed"
fi
echo "check: $pass passed, $fail failed, $skip skipped" \
     "($(($(date +%s) - start)) s)"
[ $fail -eq 0 ]
