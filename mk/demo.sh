#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make demo: boot a Linux guest on a NUMA topology with generic initiators
# and show what it sees.  Prints the QEMU command line, the SRAT Generic
# Initiator Affinity Structures and the HMAT latency/bandwidth matrix as
# the guest got them (decoded by iasl), and the guest's own view of its
# nodes (/sys/devices/system/node) next to what was configured.
#
# By default: x86 q35, one node with the CPUs and memory, a GPU-like PCI
# device on 8 generic initiator nodes as with MIG, HMAT for the CPUs and
# each instance (tests/guest/topologies/mig.json).
#   DEMO_ARCH      x86_64 (default) or aarch64 (Arm virt, UEFI, ACPI)
#   DEMO_TOPOLOGY  a topology JSON file (see tests/guest/topologies/), or
#                  the name of one there: mig (default), hmat
#   DEMO_ARGS      more QEMU arguments, appended to the command line
#   DEMO_HOST      instead: mirror a captured host into a guest with
#                  scripts/host-topology.py and show the host's view, the
#                  generated command line and the guest's view side by
#                  side: grace, cxl2s, armvirt, buildhost or pcie2hb
#                  (tests/data/host-topology/)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/mk/base.env"
if [ -n "${DEMO_HOST:-}" ]; then
    exec python3 "$top/tests/host-topology/mirror-test.py" --demo \
        --build "$B/src/build" --assets "$B/guest/assets.env" \
        --fixture "$DEMO_HOST"
fi
topo=${DEMO_TOPOLOGY:-mig}
[ -f "$topo" ] || topo=$top/tests/guest/topologies/$topo.json
[ -f "$topo" ] || {
    echo "demo: no topology $topo; DEMO_TOPOLOGY is a file or one of:" \
         "$(cd "$top/tests/guest/topologies" && ls | sed 's/\.json$//' |
            tr '\n' ' ')" >&2
    exit 2
}
exec python3 "$top/tests/guest/numa-guest.py" --demo \
    --build "$B/src/build" --assets "$B/guest/assets.env" \
    --arch "${DEMO_ARCH:-x86_64}" --topology "$topo" \
    --extra-args "${DEMO_ARGS:-}"
