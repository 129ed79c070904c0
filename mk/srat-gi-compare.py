#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Compare the SRAT Generic Initiator Affinity Structures (type 5) of our
QEMU with upstream's.

  srat-gi-compare.py OURS UPSTREAM
      two SRAT files (e.g. bios-tables-test's dumps of one case);
  srat-gi-compare.py --guests OUR-BUILD-DIR UPSTREAM-BIN-DIR ASSETS-ENV
      boots each topology of tests/guest/topologies on x86 q35 with both
      binaries and compares the SRATs the Linux guests got (Debian's
      upstream qemu-system-x86_64 has no qtest accelerator).

A pair passes when both have the same set of GI structures, byte for
byte, and the GI structures sit at the same place among the other
structures (the sequence of structure types is the same once each run of
GI structures is collapsed).  The order within the GI run is not
compared; upstream's is printed.
"""

import argparse
import glob
import os
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "scripts"))
sys.path.insert(0, os.path.join(TOP, "tests", "guest"))
import numatopo  # noqa: E402

GI_TYPE = 5


def shape(structs):
    types = []
    for s in structs:
        if s["type"] == GI_TYPE and types and types[-1] == "GI":
            continue
        types.append("GI" if s["type"] == GI_TYPE else s["type"])
    return types


def compare(ours, upstream):
    """(ok, lines saying what differs, upstream's GI node order) of two
    SRATs' bytes"""
    o, u = numatopo.parse_srat(ours), numatopo.parse_srat(upstream)
    gi_o = sorted(s["raw"] for s in o if s["type"] == GI_TYPE)
    gi_u = sorted(s["raw"] for s in u if s["type"] == GI_TYPE)
    why = []
    if not gi_o:
        why.append("no GI structure in ours")
    if gi_o != gi_u:
        why.append("GI structures differ:")
        why += ["  ours     " + s.hex() for s in gi_o]
        why += ["  upstream " + s.hex() for s in gi_u]
    if shape(o) != shape(u):
        why += ["GI structures placed differently:",
                "  ours     %s" % shape(o), "  upstream %s" % shape(u)]
    order = [s["pxm"] for s in u if s["type"] == GI_TYPE]
    return not why, why, order


def files(ours, upstream):
    with open(ours, "rb") as f, open(upstream, "rb") as g:
        ok, why, _ = compare(f.read(), g.read())
    for line in why:
        print("  " + line)
    return 0 if ok else 1


def guests(ours, upstream, assets_env):
    import numaguest
    assets = numaguest.load_assets(assets_env)
    fail = 0
    for path in sorted(glob.glob(os.path.join(TOP, "tests/guest/topologies",
                                              "*.json"))):
        topo = numaguest.Topology(path)
        # upstream refuses initiator= naming a node without CPUs
        for n in topo.nodes.values():
            if n["initiator"] is not None and not n["cpus"]:
                n["initiator"] = None
        srat = {}
        for name, bld in (("ours", ours), ("upstream", upstream)):
            a = argparse.Namespace(arch="x86_64", build=bld, extra_args="",
                                   timeout=300)
            with tempfile.TemporaryDirectory() as d:
                _, out, rc, _ = numaguest.boot(a, topo, assets, d)
            srat[name] = bytes(numaguest.parse_guest(out)["tables"].get(
                "SRAT", b""))
        ok, why, order = compare(srat["ours"], srat["upstream"])
        print("srat-gi-compare: q35 %s: %d GI structures, %s; upstream's "
              "node order %s" % (topo.name, len(order),
                                 "identical bytes and place" if ok
                                 else "DIFFERENT", order))
        for line in why:
            print("  " + line)
        fail |= not ok
    return 1 if fail else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--guests", action="store_true")
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    if a.guests and len(a.paths) == 3:
        return guests(*a.paths)
    if not a.guests and len(a.paths) == 2:
        return files(*a.paths)
    ap.error("OURS UPSTREAM, or --guests OUR-BUILD-DIR UPSTREAM-BIN-DIR "
             "ASSETS-ENV")


if __name__ == "__main__":
    sys.exit(main())
