#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run every test of the series and print one summary line:
#   1. style: the base's scripts/checkpatch.pl over our C files and patches,
#      and patches/manifest placing every new file (mk/series.py),
#   2. the stock bios-tables-test cases (x86_64: pc, q35, microvm; aarch64:
#      virt) against the expected blobs, every case under TCG,
#   3. our own qtests and the upstream qtests the series touches
#      (QTEST_JOBS, ARCH:TEST, from the Makefile),
#      the seeded QMP sequence (topology-fuzz-test, its seed shown) and
#      the host faults of vcpu-affinity-test among them,
#   4. guest tests: Debian's Linux booted under TCG on x86 q35 and Arm
#      virt with each topology in tests/guest/topologies/, checking what
#      the guest sees (tests/guest/numa-guest.py; assets from
#      mk/assets.sh guest), and MMIO reads on one vCPU while another
#      changes the memory map (tests/guest/tlb-remap.py),
#   5. the host topology mirror: scripts/host-topology.py's errors and
#      output (tests/host-topology/tool-test.py), and each captured host
#      of tests/data/host-topology mirrored into a guest that must show
#      every fact the host shows (tests/host-topology/mirror-test.py),
#   6. libvirt: Debian's libvirt 9.0 runs our binaries and a GPU domain
#      with generic initiator nodes (tests/libvirt/libvirt-test.py; root
#      only, it installs libvirt with apt-get; skipped visibly otherwise),
#      and libvirt >= 11.8 (pinned, from trixie-backports, in a trixie
#      root of its own: mk/libvirt-root.sh, tests/libvirt/in-root.sh)
#      writes generic initiators from <hostdev><acpi nodeset> itself, and
#      the guest booted from its arguments shows every fact of the host,
#   7. mk/bench.py at its smallest size, to see that make bench works.
# After the style checks, stages 2 to 7 are cut into units (a few qtest
# cases in one process, one guest boot, the libvirt test, the bench) that
# run CHECK_JOBS at a time (default: one per CPU), longest first.  A qtest
# case that does not pass runs again alone, so one failing case neither
# hides nor fails the others.  The results are printed in stage order.
# Logs are kept in $B/check/.
#
# Flaky cases: a qtest case that failed in its batch and passed when run
# again alone (same binary, same QTEST_FUZZ_SEED) is printed as "flaky"
# with its batch's log, counted among the passed and named on a line of
# its own before the closing "check: N passed, N failed, N skipped".  It
# does not fail the run: the alone run is there so that one case's
# failure cannot hide or fail the others, and a case that passes alone has
# shown that the code it tests works; what failed is the case's isolation
# from its batch or from the load of the other units (timing, state left
# by an earlier case in the same test program).  That is a test bug to
# look at, with the log kept, not a regression to stop CI on.
#
# A guest test is flaky in the same way when its guest stalled (its kernel
# reported an RCU stall, hung task or soft lockup, or an x86 vCPU stayed
# halted with an interrupt in service) and the guest passed when booted
# again (tests/guest/guestboot.py stops a stalled guest at once,
# keeps what its vCPUs were doing, and forgives one stall per test; a
# second one fails it).  Under TCG on a loaded host, a Linux guest's vCPU
# can end up halted with its local APIC timer's vector in service and
# never acknowledged, so that it takes no timer interrupt again and the
# guest waits for ever (README.md, "Guest stalls").
# Debian 13's own qemu-system-x86 10.0.13 does the same, so it is not the
# series'; the flaky line names the stall and the vCPUs' state, for the
# next one to be compared.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"
SRC=$B/src
BLD=$SRC/build
LOG=$B/check
# the trixie root of the native libvirt unit, shared by the bases
LIBVIRT_ROOT=${LIBVIRT_ROOT:-$top/.build-libvirt-root}
TAB=$(printf '\t')

# Units ---------------------------------------------------------------------
# Each unit writes result lines "STATUS<TAB>NAME<TAB>DETAIL" to
# $LOG/units/ID: STATUS ok, FAIL (DETAIL: the log), skip (the reason) or
# flaky (a case that passed only when run again; DETAIL: why it was run
# again, and the log of the failed run).
result() { printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}"; }

# qtest_run LOG ARCH TEST CASE...: run the cases in one process.  glib's
# -p runs every case below a path too: pass -p only for cases with no
# ancestor among CASE..., and -s for the cases below them that are not
# among CASE...
qtest_run() {
    # (own variable names: sh functions share their caller's variables)
    q_log=$1 q_arch=$2 q_test=$3
    shift 3
    q_args=""
    for q_c; do
        q_top=yes
        for q_d; do
            case $q_c in "$q_d"/*) q_top=no ;; esac
        done
        [ $q_top = yes ] && q_args="$q_args -p $q_c"
        for q_d in $(grep "^$q_c/" "$LOG/cases-$q_arch-$q_test"); do
            q_mine=no
            for q_e; do [ "$q_d" = "$q_e" ] && q_mine=yes; done
            [ $q_mine = no ] && q_args="$q_args -s $q_d"
        done
    done
    # shellcheck disable=SC2086
    (cd "$BLD" && TEST_ACPI_TCG_ONLY=1 V=1 \
        QTEST_QEMU_BINARY=./qemu-system-$q_arch \
        timeout 600 "tests/qtest/$q_test" $q_args) > "$q_log" 2>&1
}

# qtest ARCH TEST CASE...: the cases in one process; a case it did not
# report as passed (a failed assertion ends the program) runs again alone,
# so that one failure neither hides nor fails the others.  A case that
# failed in the batch and passes alone is "flaky" (see the summary); the
# cases after it, which the batch never ran, are plain results.
unit_qtest() {
    arch=$1 t=$2
    shift 2
    all="$LOG/$(echo "$arch-$t$1" | tr / _)+$#.log"
    qtest_run "$all" "$arch" "$t" "$@"
    rc=$?
    reported=0
    # the batch ran the cases in the order given (glib runs its -p paths
    # in turn) and stops at the first failure: a case reported "not ok",
    # or else, if the batch failed, the first case with no result, is the
    # one it failed in; the cases after it did not run
    died=""
    # a seeded test prints its seed: show it, so that a run can be repeated
    seed=$(sed -n 's/^topology-fuzz: \(seed [0-9]*\).*/\1/p' "$all" | head -n 1)
    for c; do
        if grep -q "^ok [0-9]* $c\$" "$all"; then
            result ok "$c${seed:+ ($seed)}"
            reported=$((reported + 1))
            continue
        fi
        if grep -q "^ok [0-9]* $c # SKIP" "$all"; then
            result skip "$c" "$(sed -n "s|^ok [0-9]* $c # SKIP *||p" "$all")"
            reported=$((reported + 1))
            continue
        fi
        # did the batch run this case (and fail it)?
        if grep -q "^not ok [0-9]* $c\( \|\$\)" "$all"; then
            died=$c
            ran=yes
        elif [ $rc -ne 0 ] && [ -z "$died" ]; then
            died=$c
            ran=yes
        else
            ran=no
        fi
        l="$LOG/$(echo "$arch-$t$c" | tr / _).log"
        qtest_run "$l" "$arch" "$t" "$c"
        if [ $? -eq 0 ] && grep -q "^ok [0-9]* $c\$" "$l"; then
            if [ $ran = yes ]; then
                result flaky "$c${seed:+ ($seed)}" \
                    "failed in its batch, passed alone; batch log: $all"
            else
                result ok "$c${seed:+ ($seed)}"
            fi
        elif grep -q "^ok [0-9]* $c # SKIP" "$l"; then
            result skip "$c" "$(sed -n "s|^ok [0-9]* $c # SKIP *||p" "$l")"
        else
            result FAIL "$c" "$l"
        fi
    done
    # every case passed, yet the program failed (at exit, say)
    if [ $rc -ne 0 ] && [ $reported -eq $# ]; then
        result FAIL "$arch:$t exited with status $rc after $1 ..." "$all"
    fi
}

# passed NAME LOG: the result of a guest test that passed: flaky if its
# guest stalled once and passed when booted again (the test forgave the
# stall, tests/guest/guestboot.py), with what stalled; else ok
passed() {
    why=$(sed -n 's/^stall forgiven, booted again: //p' "$2" | head -n 1)
    if [ -n "$why" ]; then
        result flaky "$1" "its guest stalled, and passed when booted again: $why; log: $2"
    else
        result ok "$1"
    fi
}

# guest ARCH TOPOLOGY [--migrate]: one guest boot; with --migrate, the
# guest moves to a second QEMU while its /init runs
unit_guest() {
    arch=$1 t=$2
    shift 2
    id="guest-$arch-$t${1:+-migrated}"
    l="$LOG/$id.log"
    if python3 "$top/tests/guest/numa-guest.py" --build "$BLD" \
            --assets "$B/guest/assets.env" --arch "$arch" \
            --topology "$top/tests/guest/topologies/$t.json" \
            --keep "$LOG/$id" --timeout 600 "$@" > "$l" 2>&1; then
        passed "$(tail -n 1 "$l")" "$l"
    else
        result FAIL "guest:$arch:$t${1:+ (migrated)}" "$l"
    fi
}

# mirror FIXTURE [ARGS...]: scripts/host-topology.py mirrors a captured
# host into a guest, which must see every fact the host shows
unit_mirror() {
    l="$LOG/mirror-$(echo "$*" | tr ' /=' '___').log"
    if python3 "$top/tests/host-topology/mirror-test.py" --build "$BLD" \
            --assets "$B/guest/assets.env" --keep "${l%.log}" \
            --fixture "$@" > "$l" 2>&1; then
        passed "$(grep '^mirror ' "$l")" "$l"
    else
        result FAIL "mirror:$*" "$l"
    fi
}

# mirror_fails FIXTURE FILE=VALUE: with one value of the fixture changed,
# the mirror test must fail, on that fact only
unit_mirror_fails() {
    l="$LOG/mirror-fails-$1.log"
    python3 "$top/tests/host-topology/mirror-test.py" --build "$BLD" \
        --assets "$B/guest/assets.env" --keep "${l%.log}" \
        --fixture "$1" --alter "$2" > "$l" 2>&1
    rc=$?
    what=$(basename "${2%%=*}")
    if [ $rc = 1 ] && [ "$(grep -c '^  FAIL' "$l")" = 1 ] &&
       grep -q "^  FAIL $1 .* $what: host ${2#*=}, " "$l"; then
        passed "mirror $1 fails when $2 in the fixture: $(grep '^  FAIL' "$l" | sed 's/^  FAIL //')" "$l"
    else
        result FAIL "mirror:$1 with $2 did not fail on that fact alone" "$l"
    fi
}

# mirror_moved FIXTURE BDF=PORT: compared with a copy of the fixture in
# which one device sits below another switch, the mirror test must fail,
# on the PCIe tree only
unit_mirror_moved() {
    l="$LOG/mirror-moved-$1.log"
    python3 "$top/tests/host-topology/mirror-test.py" --build "$BLD" \
        --assets "$B/guest/assets.env" --keep "${l%.log}" \
        --fixture "$1" --move "$2" > "$l" 2>&1
    rc=$?
    if [ $rc = 1 ] && [ "$(grep -c '^  FAIL' "$l")" = 1 ] &&
       grep -q "^  FAIL $1 pcie tree: " "$l"; then
        passed "mirror $1 fails on the PCIe tree when ${2%%=*} is below ${2#*=} in the fixture" "$l"
    else
        result FAIL "mirror:$1 with ${2%%=*} below ${2#*=} did not fail on the PCIe tree alone" "$l"
    fi
}

# tlbremap: MMIO reads on one vCPU while another changes the memory map
# (tests/guest/tlb-remap.py: x86_64, multi-threaded TCG, no Linux)
unit_tlbremap() {
    l="$LOG/tlb-remap.log"
    if python3 "$top/tests/guest/tlb-remap.py" --build "$BLD" \
            --keep "${l%.log}" > "$l" 2>&1; then
        result ok "$(tail -n 1 "$l")"
    else
        result FAIL "$(sed -n 's/^FAIL //p' "$l" | head -n 1 | grep . ||
                       echo "tlb-remap")" "$l"
    fi
}

# tooltest: scripts/host-topology.py's errors and output, no guest (QEMU
# started paused once, to see where the devices sit)
unit_tooltest() {
    l="$LOG/host-topology-tool.log"
    python3 "$top/tests/host-topology/tool-test.py" \
        --qemu "$BLD/qemu-system-x86_64" > "$l" 2>&1
    rc=$?
    while IFS= read -r line; do
        case "$line" in
            "ok   "*) result ok "host-topology.py: ${line#ok   }" ;;
            "FAIL "*) result FAIL "host-topology.py: ${line#FAIL }" "$l" ;;
        esac
    done < "$l"
    [ $rc = 0 ] || grep -q '^FAIL ' "$l" ||
        result FAIL "host-topology tool-test (exit $rc)" "$l"
}

# libvirt: Debian's libvirt runs our QEMU (root only; else a visible skip)
unit_libvirt() {
    l="$LOG/libvirt.log"
    inst=
    [ "$(id -u)" = 0 ] && inst=--install
    python3 "$top/tests/libvirt/libvirt-test.py" --build "$BLD" \
        --assets "$B/guest/assets.env" --workdir "$LOG" --keep $inst \
        > "$l" 2>&1
    libvirt_results $? "libvirt" "$l"
    # after, not beside, the run above: two libvirts each pinning the
    # threads of TCG guests on the same 2 CPUs starved a guest's vCPU
    # (an RCU stall, the guest not powering off in 300 s)
    unit_libvirt_native
}

# libvirt-native: libvirt >= 11.8 (trixie-backports, pinned), in a trixie
# root of its own (mk/libvirt-root.sh, made once), writes the generic
# initiators of <hostdev><acpi nodeset> itself; the guest booted from its
# arguments must show every fact of the captured host; and the rest of the
# libvirt test again, on that libvirt (root only; else a visible skip)
unit_libvirt_native() {
    l="$LOG/libvirt-native.log"
    if [ "$(id -u)" != 0 ]; then
        result skip "libvirt-native" "needs root (debootstrap, chroot, libvirtd)"
        return
    fi
    if ! "$top/mk/libvirt-root.sh" "$LIBVIRT_ROOT" > "$l" 2>&1; then
        result FAIL "libvirt-native: the trixie root (mk/libvirt-root.sh)" "$l"
        return
    fi
    "$top/tests/libvirt/in-root.sh" "$LIBVIRT_ROOT/root" "$top" \
        /usr/bin/python3 "$top/tests/libvirt/libvirt-test.py" \
        --build "$BLD" --assets "$B/guest/assets.env" --workdir "$LOG" \
        --keep --require-native >> "$l" 2>&1
    rc=$?
    v=$(sed -n 's/^ok libvirtd and virtlogd started (libvirtd (libvirt) \([0-9.]*\)).*/\1/p' "$l")
    libvirt_results $rc "libvirt ${v:-?}" "$l"
}

# libvirt_results STATUS PREFIX LOG: the result lines of a libvirt-test.py
# run (its exit STATUS, its output in LOG), each name after PREFIX
libvirt_results() {
    while IFS= read -r line; do
        case "$line" in
            "ok "*)   result ok "$2: ${line#ok }" ;;
            "FAIL "*) result FAIL "$2: ${line#FAIL }" "$3" ;;
            "skip "*) result skip "$2: ${line#skip }" ;;
            # a guest that stalled once and was booted again
            "flaky "*) result flaky "$2: ${line#flaky }" "the stall: $3" ;;
        esac
    done < "$3"
    if [ "$1" -ne 0 ] && ! grep -q '^FAIL ' "$3"; then
        result FAIL "$2 (exit $1)" "$3"
    fi
}

# bench: make bench at its smallest size: it runs, nothing is timed
unit_bench() {
    l="$LOG/bench-tiny.log"
    if python3 "$top/mk/bench.py" --tiny --build "$BLD" \
            --assets "$B/guest/assets.env" --out "$LOG/bench-tiny.json" \
            > "$l" 2>&1; then
        result ok "make bench runs (--tiny)"
    else
        result FAIL "bench:tiny" "$l"
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
flaky=0
failed=""
flaky_names=""
start=$(date +%s)

ok()   { pass=$((pass + 1)); echo "  ok    $1"; }
bad()  { fail=$((fail + 1)); failed="$failed $1"; echo "  FAIL  $1  (log: $2)"; }

# What the tests run on: the pinned Debian packages (mk/assets.pins), never
# the host's firmware
for part in firmware guest; do
    echo "check: $part: $(awk '{ printf "%s%s %s", s, $1, $2; s = ", " }' \
                           "$B/assets/$part/versions")"
done
echo "check: accelerator: TCG for every case (TEST_ACPI_TCG_ONLY=1)," \
     "whether /dev/kvm exists or not"
# One seed for the QMP sequence, new each run unless given: a case that
# runs again alone runs the same sequence
QTEST_FUZZ_SEED=${QTEST_FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
export QTEST_FUZZ_SEED
echo "check: QMP sequence seed $QTEST_FUZZ_SEED (QTEST_FUZZ_SEED=N make check" \
     "repeats it)"

# 1. style ----------------------------------------------------------------
echo "check: checkpatch"
cp="$SRC/scripts/checkpatch.pl"
# our C files: git's list, or without git every C file outside the build
# directories (.build, .build-10.0 ...)
ours=$(cd "$top" &&
       { git ls-files -co --exclude-standard -- '*.c' '*.h' '*.c.inc' \
             2>/dev/null ||
         find . -path './.build*' -prune -o \( -name '*.c' -o -name '*.h' \
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
for p in $(grep -v '^[[:space:]]*\(#\|$\)' "$PATCHES/series"); do
    l="$LOG/checkpatch-$p.log"
    # a patch that only carries binary files (patches/BASE/manifest) has
    # no text diff here for checkpatch to read
    if ! grep -q '^--- ' "$PATCHES/$p"; then
        ok "checkpatch $p (binary files only, nothing to check)"
    elif perl "$cp" --no-tree -q "$PATCHES/$p" > "$l" 2>&1; then
        ok "checkpatch $p"
    else
        bad "checkpatch:$p" "$l"
        grep -E '^(ERROR|WARNING)' "$l" | head -n 5 | sed 's/^/        /'
    fi
done
# every new and rebaselined file is placed in a patch of the series
l="$LOG/series-manifest.log"
if python3 "$top/mk/series.py" --check-manifest > "$l" 2>&1; then
    ok "patches/manifest places every new file"
else
    bad "patches/manifest" "$l"
    sed -n '1,8s/^/        /p' "$l"
fi
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
mirror_ids="tooltest"
echo "tooltest tooltest" >> "$LOG/units.list"
for f in grace cxl2s armvirt buildhost pcie2hb; do
    echo "mirror-$f mirror $f" >> "$LOG/units.list"
    mirror_ids="$mirror_ids mirror-$f"
done
# the PCIe tree on Arm virt too, and a copy with nic0 below the other
# host bridge's switch, which the comparison must catch
echo "mirror-pcie2hb-virt mirror pcie2hb --arch aarch64" >> "$LOG/units.list"
echo "mirror-moved mirror_moved pcie2hb 0000:24:00.0=0000:42:01.0" \
     >> "$LOG/units.list"
mirror_ids="$mirror_ids mirror-pcie2hb-virt mirror-moved"
echo "mirror-cxl2s-sysfs mirror cxl2s --without-tables" >> "$LOG/units.list"
echo "mirror-fails mirror_fails grace" \
     "devices/system/node/node9/access0/initiators/read_latency=81" \
     >> "$LOG/units.list"
mirror_ids="$mirror_ids mirror-cxl2s-sysfs mirror-fails"
# the topologies that a guest of ARCH boots (a file's "arches", if any)
arch_topologies() {
    for t in $topologies; do
        python3 -c 'import json, sys
a = json.load(open(sys.argv[1])).get("arches")
sys.exit(0 if not a or sys.argv[2] in a else 1)' \
            "$top/tests/guest/topologies/$t.json" "$1" && printf '%s ' "$t"
    done
}
n=0
for arch in aarch64 x86_64; do
    for t in $(arch_topologies $arch); do
        echo "guest-$arch-$t guest $arch $t" >> "$LOG/units.list"
    done
done
echo "tlb-remap tlbremap" >> "$LOG/units.list"
# the most nodes, with a full HMAT, also migrates
migrated=""
case " $(echo $topologies) " in *" gi128 "*)
    echo "guest-x86_64-gi128-migrated guest x86_64 gi128 --migrate" \
         >> "$LOG/units.list"
    migrated=" guest-x86_64-gi128-migrated" ;;
esac
for j in $jobs; do
    arch=${j%%:*} t=${j#*:}
    # listed as they run: with TEST_ACPI_TCG_ONLY, the same cases on every
    # host (the KVM-only ones are registered, to be skipped).  GLib 2.84
    # (Debian 13) prints "# /arch/..." where 2.74 printed "/arch/..."
    (cd "$BLD" && TEST_ACPI_TCG_ONLY=1 \
        QTEST_QEMU_BINARY=./qemu-system-$arch "tests/qtest/$t" -l \
        2>/dev/null) | sed -n "s#^\(\# \)\{0,1\}\(/$arch/\)#\2#p" \
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
# UEFI boots on Arm first, and the QMP sequence: they are the longest
for j in $jobs; do
    case $j in aarch64:*|*:topology-fuzz-test)
        cat "$LOG/units-${j%%:*}-${j#*:}" ;;
    esac
done >> "$LOG/units.list"
for j in $jobs; do
    case $j in aarch64:*|*:topology-fuzz-test) ;;
        *) cat "$LOG/units-${j%%:*}-${j#*:}" ;;
    esac
done >> "$LOG/units.list"
guest_ids=$(for arch in x86_64 aarch64; do
                for t in $(arch_topologies $arch); do
                    printf ' guest-%s-%s' "$arch" "$t"
                done
            done)$migrated" tlb-remap"
echo "guest tests|$guest_ids" >> "$LOG/order"
echo "host topology mirror|$mirror_ids" >> "$LOG/order"
echo "libvirt|libvirt" >> "$LOG/order"
echo "bench (tiny)|bench" >> "$LOG/order"

CHECK_JOBS=${CHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}
echo "check: $(wc -l < "$LOG/units.list") units, $CHECK_JOBS at a time" \
     "(qtests: $jobs; guest tests; libvirt; bench)"
t0=$(date +%s)
xargs -L 1 -P "$CHECK_JOBS" sh "$0" --unit < "$LOG/units.list"
rc=$?
echo "check: units took $(($(date +%s) - t0)) s"
if [ $rc -ne 0 ]; then
    bad "the units (xargs exit status $rc)" "$LOG/units.list"
fi

while IFS='|' read -r heading ids; do
    echo "check: $heading"
    for id in $ids; do
        if [ ! -f "$LOG/units/$id" ]; then
            bad "unit $id did not finish: $(grep "^$id " "$LOG/units.list")" \
                "$LOG/units/$id.tmp"
            continue
        fi
        while IFS="$TAB" read -r st name detail; do
            case $st in
            ok)   ok "$name" ;;
            skip) skip=$((skip + 1)); echo "  skip  $name: $detail" ;;
            # a pass, named: see "Flaky cases" at the top
            flaky) pass=$((pass + 1)); flaky=$((flaky + 1))
                   flaky_names="$flaky_names${flaky_names:+, }$name"
                   echo "  flaky $name  ($detail)" ;;
            *)    bad "$name" "$detail"
                  [ -f "$detail" ] && tail -n 25 "$detail" |
                      sed 's/^/        /' ;;
            esac
        done < "$LOG/units/$id"
    done
done < "$LOG/order"

echo
echo "check: took $(($(date +%s) - start)) s"
if [ $flaky -ne 0 ]; then
    echo "check: $flaky flaky (passed only when run again): $flaky_names"
fi
if [ $fail -ne 0 ]; then
    echo "check: failed:$failed"
fi
# the closing line, as CI reads it: nothing may follow the counts
echo "check: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
