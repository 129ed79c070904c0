#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Compare SRAT Generic Initiator structures on x86 q35 with upstream QEMU.

Debian's upstream qemu-system-x86_64 (10.0, bookworm-backports) has no
qtest accelerator, so bios-tables-test cannot read its tables; a Linux
guest can.  Boot the guest tests' kernel on each topology of
tests/guest/topologies with our binary and with upstream's, read the
SRAT the guest got, and check that the GI structures (type 5) are the
same bytes and sit at the same place among the other structures.  The
order of the GI structures may differ: ours are sorted by node, upstream
walks its object tree in hash-table order.  Upstream rejects a GI node as
a memory node's attached initiator (ours accepts it), so such initiators
are left out of the topology for this comparison.

usage: srat-gi-guest-compare.py OUR-BUILD-DIR UPSTREAM-BIN-DIR ASSETS-ENV
"""

import argparse
import glob
import importlib.util
import os
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ours, upstream, assets_env = sys.argv[1:4]
    spec = importlib.util.spec_from_file_location(
        "numa_guest", os.path.join(TOP, "tests/guest/numa-guest.py"))
    ng = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ng)
    assets = ng.load_assets(assets_env)
    fail = 0
    for path in sorted(glob.glob(os.path.join(TOP, "tests/guest/topologies",
                                              "*.json"))):
        topo = ng.Topology(path)
        for n in topo.nodes.values():
            if n["initiator"] is not None and not n["cpus"]:
                n["initiator"] = None
        subs = {}
        for name, bld in (("ours", ours), ("upstream", upstream)):
            a = argparse.Namespace(arch="x86_64", build=bld, extra_args="",
                                   timeout=300)
            with tempfile.TemporaryDirectory() as d:
                _, out, rc, _ = ng.boot(a, topo, assets, d)
            srat = bytes(ng.parse_guest(out)["tables"].get("SRAT", b""))
            subs[name], off = [], 48
            while off + 2 <= len(srat) and srat[off + 1]:
                subs[name].append(srat[off:off + srat[off + 1]])
                off += srat[off + 1]
        o, u = subs["ours"], subs["upstream"]
        gi_o = [s for s in o if s[0] == 5]
        gi_u = [s for s in u if s[0] == 5]
        layout_o = bytes(s[0] for s in o)
        layout_u = bytes(s[0] for s in u)
        ok = gi_o and sorted(gi_o) == sorted(gi_u) and layout_o == layout_u
        print("srat-gi-guest-compare: q35 %s: %d GI structures, %s; "
              "upstream's node order %s" % (
                  topo.name, len(gi_o),
                  "identical bytes and place" if ok else "DIFFERENT",
                  [int.from_bytes(s[4:8], "little") for s in gi_u]))
        fail |= not ok
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
