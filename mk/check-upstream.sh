#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make check-upstream (optional, needs the network to Debian's archive, not
# run by make check): our QEMU against Debian 13's own QEMU 10.0.13
# binaries (mk/assets.sh upstream: unpacked with their libraries, run with
# trixie's loader, never installed), on the same command lines.
#   1. Tables, as Linux guests read them (Debian's binaries have no qtest
#      accelerator), for every topology of tests/guest/topologies on x86
#      q35 and Arm virt, and for CXL host bridges as generic ports:
#        - the same set of SRAT GI and GP structures, byte for byte, at
#          the same place among the other SRAT structures; upstream's
#          order is printed, not compared (hash order; ours is by node);
#        - the same HMAT wherever it speaks of memory: upstream also lists
#          every memoryless node as a target, ours does not.
#   2. The same seeded random QMP sequence over GI and GP objects
#      (mk/upstream-fuzz.py) on both: the step that kills upstream is
#      named; ours must survive every step.  UPSTREAM_FUZZ_SEED=N repeats
#      a run.
# Fails when a comparison differs or ours dies.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"
BLD=$B/src/build
U=$B/upstream/bin
say() { echo "check-upstream: $*"; }

say "ours:     $("$BLD/qemu-system-x86_64" --version | head -n 1)"
say "upstream: $("$U/qemu-system-x86_64" --version | head -n 1)"
fail=0
for arch in x86_64 aarch64; do
    if python3 "$top/mk/srat-gi-compare.py" --guests --arch "$arch" \
            "$BLD" "$U" "$B/guest/assets.env"; then
        say "ok   $arch guests: SRAT GI/GP and HMAT"
    else
        say "FAIL $arch guests"
        fail=1
    fi
done
if python3 "$top/mk/srat-gi-compare.py" --ports "$BLD" "$U" \
        "$B/guest/assets.env"; then
    say "ok   q35 generic ports: SRAT GI/GP and HMAT"
else
    say "FAIL q35 generic ports"
    fail=1
fi
seed=${UPSTREAM_FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
if python3 "$top/mk/upstream-fuzz.py" --seed "$seed" --steps 200 "$BLD" \
        "ours=$BLD/qemu-system-x86_64" "upstream=$U/qemu-system-x86_64"; then
    say "ok   random QMP sequence (seed $seed): ours survived"
else
    say "FAIL random QMP sequence (seed $seed): ours died"
    fail=1
fi
exit $fail
