#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make check-sanitizers: QEMU built a second time, in $B/src/build-san,
# with --enable-sanitizers (AddressSanitizer, which brings LeakSanitizer,
# and UndefinedBehaviorSanitizer), for x86_64 only: every object of the
# series exists there, and aarch64 would double the build for the same
# code.  It runs our own qtests and the seeded QMP sequence, the
# generic initiator and port cases of bios-tables-test, and
# tests/guest/tlb-remap.py (the TCG fix of the last patch), with ASan's
# reports written to $B/check-sanitizers/reports/ (log_path); UBSan's go
# to QEMU's stderr, which is in the tests' logs.
# mk/sanitizer-reports.py then reads both: it fails on any report that
# involves our code (a frame in a file of the series, or in a line the
# series adds to a QEMU file), and lists the others.  Last, the start-up
# error cases run once more with the reports on stderr, where ASan's own
# notices must not fail them.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"
SRC=$B/src
BLD=$SRC/build-san
LOG=$B/check-sanitizers
FIRMWAREPATH=$1
TESTS="generic-initiator-test generic-port-test vcpu-affinity-test
cache-monitor-test topology-fuzz-test"
start=$(date +%s)

# ASan (with LSan) and UBSan, as the base spells them (mk/bases/)
CONFIGURE_BUILD=build-san CONFIGURE_TARGETS=x86_64-softmmu \
CONFIGURE_EXTRA=$(echo "$BASE_SANITIZERS" | tr ',' '\n') \
    "$top/mk/configure.sh" "$FIRMWAREPATH" || exit 1
if ! grep -q -- '-fsanitize=undefined' "$BLD/build.ninja" ||
   ! grep -q -- '-fsanitize=address' "$BLD/build.ninja"; then
    echo "check-sanitizers: ERROR: $BLD is not built with ASan and UBSan" >&2
    exit 1
fi
echo "check-sanitizers: ninja in $BLD (x86_64, --enable-sanitizers)"
# QEMU's own code warns under the sanitizers: keep it in a log
# shellcheck disable=SC2086
if ! ninja -C "$BLD" qemu-system-x86_64 tests/qtest/fault-inject.so \
        tests/qtest/bios-tables-test $(printf 'tests/qtest/%s ' $TESTS) \
        > "$B/build-san.log" 2>&1; then
    grep -E 'error|FAILED' "$B/build-san.log" | head -n 20 >&2
    echo "check-sanitizers: ERROR: the build failed, see $B/build-san.log" >&2
    exit 1
fi
"$top/mk/bundle.sh" "$BLD" "$FIRMWAREPATH" "$B/firmware" || exit 1
echo "check-sanitizers: built in $(($(date +%s) - start)) s"

rm -rf "$LOG"
mkdir -p "$LOG/reports"
# halt_on_error stays on for ASan: a memory error ends the process, and
# the test with it.  Leaks are reported at exit without changing QEMU's
# exit status, which the tests check.  ASan cannot follow coroutine
# stacks through longjmp: detect_stack_use_after_return would report
# their frames.  The fault-injection library is preloaded before ASan's
# runtime (verify_asan_link_order).  Stacks of allocations are unwound
# fully: the fast unwinder stops in the C library and glib, which would
# leave a leak with no frame of its owner.
asan="detect_leaks=1:verify_asan_link_order=0:detect_stack_use_after_return=0"
asan="$asan:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="exitcode=0"
export UBSAN_OPTIONS="print_stacktrace=1"
export ASAN_OPTIONS="$asan:log_path=$LOG/reports/asan"

pass=0
fail=0
failed=""
# run NAME TEST [ARGS...]: one qtest program, in the build directory
run() {
    name=$1 t=$2
    shift 2
    l="$LOG/$name.log"
    t0=$(date +%s)
    if (cd "$BLD" && TEST_ACPI_TCG_ONLY=1 QTEST_QEMU_BINARY=./qemu-system-x86_64 \
            timeout 1200 "tests/qtest/$t" "$@") > "$l" 2>&1 &&
       ! grep -q '^not ok' "$l"; then
        pass=$((pass + 1))
        seed=$(sed -n 's/^topology-fuzz: \(seed [0-9]*\).*/, \1/p' "$l")
        echo "  ok    $name: $(grep -c '^ok' "$l") cases" \
             "($(($(date +%s) - t0)) s$seed)"
    else
        fail=$((fail + 1))
        failed="$failed $name"
        echo "  FAIL  $name  (log: $l)"
        grep -E '^(not ok|\*\*|topology-fuzz:)' "$l" | head -n 5 |
            sed 's/^/        /'
    fi
}

echo "check-sanitizers: our qtests under ASan+UBSan (x86_64)"
for t in $TESTS; do
    run "$t" "$t"
done
# the generic initiator and port tables, built by our code, on q35 and pc
cases=$(cd "$BLD" && TEST_ACPI_TCG_ONLY=1 \
        QTEST_QEMU_BINARY=./qemu-system-x86_64 tests/qtest/bios-tables-test \
        -l 2>/dev/null | grep -E '/(gi|gp)-[^/]*$')
# shellcheck disable=SC2046
run bios-tables-test-gi-gp bios-tables-test $(printf -- '-p %s ' $cases)

# the TCG fix of the series' last patch: a TLB entry keeps the section it
# was filled from, which RCU must keep alive while the entry can be used
# (a use after free would be ASan's report, in a line the series adds)
l="$LOG/tlb-remap.log"
t0=$(date +%s)
if python3 "$top/tests/guest/tlb-remap.py" --build "$BLD" --toggles 5000 \
        > "$l" 2>&1; then
    pass=$((pass + 1))
    echo "  ok    tlb-remap: 5000 map changes under MMIO reads" \
         "($(($(date +%s) - t0)) s)"
else
    fail=$((fail + 1))
    failed="$failed tlb-remap"
    echo "  FAIL  tlb-remap  (log: $l)"
    grep '^FAIL' "$l" | head -n 2 | sed 's/^/        /'
fi

# the start-up errors, with ASan's notices on stderr (and any report: it
# fails the case)
for t in generic-initiator:startup generic-port:startup \
         vcpu-affinity:startup-error cache-monitor:startup; do
    ASAN_OPTIONS="$asan" UBSAN_OPTIONS="print_stacktrace=1" run \
        "stderr-${t%%:*}-${t#*:}" "${t%%:*}-test" -p "/x86_64/${t%%:*}/${t#*:}"
done
# what those cases tolerate: QEMU's stderr on a start-up error
notice=$(cd "$BLD" && ASAN_OPTIONS="$asan" ./qemu-system-x86_64 -machine q35 \
             -display none -object acpi-generic-initiator,id=gi0 2>&1 |
         grep -c "WARNING: ASan doesn't fully support makecontext")
echo "  (ASan's makecontext notice in a start-up error's stderr: $notice" \
     "line(s))"

echo "check-sanitizers: sanitizer reports"
if python3 "$top/mk/sanitizer-reports.py" --src "$SRC" --base "$B/base" \
        --build "$BLD" --series "$PATCHES" "$LOG/reports" "$LOG"/*.log \
        > "$LOG/reports.txt" 2>&1; then
    pass=$((pass + 1))
    sed 's/^/  /' "$LOG/reports.txt"
else
    fail=$((fail + 1))
    failed="$failed sanitizer-reports"
    sed 's/^/  /' "$LOG/reports.txt"
fi

echo
echo "check-sanitizers: $pass passed, $fail failed" \
     "($(($(date +%s) - start)) s)${failed:+; failed:$failed}"
[ $fail -eq 0 ]
