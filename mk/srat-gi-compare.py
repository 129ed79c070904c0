#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Compare the SRAT Generic Initiator (type 5) and Generic Port (type 6)
Affinity Structures of our QEMU with upstream's.

  srat-gi-compare.py OURS UPSTREAM
      two SRAT files (e.g. bios-tables-test's dumps of one case);
  srat-gi-compare.py --guests OUR-BUILD-DIR UPSTREAM-BIN-DIR ASSETS-ENV
      boots each topology of tests/guest/topologies on x86 q35 with both
      binaries and compares the SRATs the Linux guests got (Debian's
      upstream qemu-system-x86_64 has no qtest accelerator);
  srat-gi-compare.py --ports OUR-BUILD-DIR UPSTREAM-BIN-DIR ASSETS-ENV
      the same for one q35 command line with CXL host bridges as generic
      ports and a generic initiator.

A pair passes when both have the same set of GI and of GP structures,
byte for byte, and these sit at the same place among the other
structures (the sequence of structure types is the same once each run of
GI and GP structures is collapsed).  The order within the run is not
compared (ours is by proximity domain; upstream's follows the QOM tree);
upstream's is printed.
"""

import argparse
import glob
import os
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the pinned firmware (mk/assets.sh firmware)
FIRMWARE = os.path.join(os.environ.get("B", os.path.join(TOP, ".build")),
                        "firmware")
sys.path.insert(0, os.path.join(TOP, "scripts"))
sys.path.insert(0, os.path.join(TOP, "tests", "guest"))
import numatopo  # noqa: E402

def firmware_args(name):
    """upstream's binary is unpacked, not installed: point it at the
    pinned firmware that our build directory uses"""
    if name == "ours":
        return []
    return [x for d in ("usr/share/seabios", "usr/share/qemu",
                        "usr/lib/ipxe/qemu")
            for x in ("-L", os.path.join(FIRMWARE, d))]


def guest_tables(out):
    """(SRAT, HMAT) bytes from a guest's console output"""
    import numaguest
    tables = numaguest.parse_guest(out)["tables"]
    return bytes(tables.get("SRAT", b"")), bytes(tables.get("HMAT", b""))


GI_TYPE = 5
GP_TYPE = 6
KINDS = {GI_TYPE: "GI", GP_TYPE: "GP"}


def shape(structs):
    """the sequence of structure types, each run of generic affinity
    structures (initiators and ports) collapsed into one GA"""
    types = []
    for s in structs:
        t = "GA" if s["type"] in KINDS else s["type"]
        if t != "GA" or not types or types[-1] != "GA":
            types.append(t)
    return types


def compare(ours, upstream, want=(GI_TYPE,)):
    """(ok, lines saying what differs, upstream's generic affinity nodes
    in its order) of two SRATs' bytes; WANT: the structure types that
    ours must have"""
    o, u = numatopo.parse_srat(ours), numatopo.parse_srat(upstream)
    why = []
    for t, kind in KINDS.items():
        s_o = sorted(s["raw"] for s in o if s["type"] == t)
        s_u = sorted(s["raw"] for s in u if s["type"] == t)
        if t in want and not s_o:
            why.append("no %s structure in ours" % kind)
        if s_o != s_u:
            why.append("%s structures differ:" % kind)
            why += ["  ours     " + s.hex() for s in s_o]
            why += ["  upstream " + s.hex() for s in s_u]
    if shape(o) != shape(u):
        why += ["generic affinity structures placed differently:",
                "  ours     %s" % shape(o), "  upstream %s" % shape(u)]
    order = ["%s%d" % (KINDS[s["type"]], s["pxm"]) for s in u
             if s["type"] in KINDS]
    return not why, why, order


def compare_hmat(ours, upstream, srat):
    """(ok, lines saying what differs) of two HMATs, where they speak of
    memory: the targets that SRAT (ours) gives memory or a generic port.
    Upstream lists every node as a target, ours only those."""
    if not ours and not upstream:
        return True, []
    if not ours or not upstream:
        return False, ["HMAT only in %s" % ("ours" if ours else "upstream")]
    mem = {e["pxm"] for e in numatopo.parse_srat(srat)
           if e.get("enabled") and (e["type"] == GP_TYPE or
                                    e.get("kind") == "memory" and
                                    e["length"])}
    view = []
    for data in (ours, upstream):
        h = numatopo.parse_hmat(data)
        view.append({
            "attached": {m: i for m, i in h["attached"].items() if m in mem},
            "lb": sorted((lb["hierarchy"], lb["data_type"],
                          sorted((k, v) for k, v in lb["values"].items()
                                 if k[1] in mem)) for lb in h["lb"]),
            "caches": sorted(sorted(c.items()) for c in h["caches"]
                             if c["pxm"] in mem)})
    why = []
    for key in ("attached", "lb", "caches"):
        if view[0][key] != view[1][key]:
            why += ["HMAT %s differ (targets %s):" % (key, sorted(mem)),
                    "  ours     %s" % (view[0][key],),
                    "  upstream %s" % (view[1][key],)]
    return not why, why


def files(ours, upstream):
    with open(ours, "rb") as f, open(upstream, "rb") as g:
        ok, why, _ = compare(f.read(), g.read())
    for line in why:
        print("  " + line)
    return 0 if ok else 1


def guests(ours, upstream, assets_env, arch):
    import numaguest
    assets = numaguest.load_assets(assets_env)
    fail = 0
    machine = {"x86_64": "q35", "aarch64": "virt"}[arch]
    for path in sorted(glob.glob(os.path.join(TOP, "tests/guest/topologies",
                                              "*.json"))):
        topo = numaguest.Topology(path)
        if topo.arches and arch not in topo.arches:
            continue
        # upstream refuses initiator= naming a node without CPUs
        for n in topo.nodes.values():
            if n["initiator"] is not None and not n["cpus"]:
                n["initiator"] = None
        srat, hmat = {}, {}
        for name, bld in (("ours", ours), ("upstream", upstream)):
            a = argparse.Namespace(arch=arch, build=bld,
                                   extra_args=" ".join(firmware_args(name)),
                                   timeout=600)
            with tempfile.TemporaryDirectory() as d:
                _, out, rc, _ = numaguest.boot(a, topo, assets, d)
            srat[name], hmat[name] = guest_tables(out)
            if not srat[name]:
                print("srat-gi-compare: %s %s: no SRAT from %s (QEMU: %s)"
                      % (machine, topo.name, name, rc))
        if not srat["ours"] or not srat["upstream"]:
            fail = 1
            continue
        ok, why, order = compare(srat["ours"], srat["upstream"])
        hok, hwhy = compare_hmat(hmat["ours"], hmat["upstream"],
                                 srat["ours"])
        print("srat-gi-compare: %s %s: %d GI structures, %s; upstream's "
              "order %s; HMAT %s" % (
                  machine, topo.name, len(order),
                  "identical bytes and place" if ok else "DIFFERENT", order,
                  ("none" if not hmat["ours"] else
                   "the same for memory targets") if hok else "DIFFERENT"))
        for line in why + hwhy:
            print("  " + line)
        fail |= not ok or not hok
    return 1 if fail else 0


# CXL host bridges as generic ports of nodes 2 and 1 (given in that
# order), a generic initiator in node 1, and HMAT to both ports
PORTS_ARGS = (
    "-machine q35,cxl=on,hmat=on -m 512M -smp 2"
    " -object memory-backend-ram,id=ram0,size=512M"
    " -numa node,nodeid=0,cpus=0-1,memdev=ram0 -numa node,nodeid=1"
    " -numa node,nodeid=2"
    " -device pxb-cxl,id=cxl.1,bus=pcie.0,bus_nr=12"
    " -device pxb-cxl,id=cxl.2,bus=pcie.0,bus_nr=222"
    " -device pci-testdev,id=dev0,bus=pcie.0"
    " -object acpi-generic-port,id=gp2,pci-bus=cxl.1,node=2"
    " -object acpi-generic-port,id=gp1,pci-bus=cxl.2,node=1"
    " -object acpi-generic-initiator,id=gi1,pci-dev=dev0,node=1"
    " -numa hmat-lb,initiator=0,target=0,hierarchy=memory,"
    "data-type=access-latency,latency=10"
    " -numa hmat-lb,initiator=0,target=1,hierarchy=memory,"
    "data-type=access-latency,latency=100"
    " -numa hmat-lb,initiator=0,target=2,hierarchy=memory,"
    "data-type=access-latency,latency=200").split()


def ports(ours, upstream, assets_env):
    """The same, for generic ports: one CXL command line on both"""
    import guestboot
    assets = guestboot.load_assets(assets_env)
    srat, hmat = {}, {}
    for name, bld in (("ours", ours), ("upstream", upstream)):
        with tempfile.TemporaryDirectory() as d:
            _, out, rc, _ = guestboot.boot(bld, "x86_64", assets, d,
                                           PORTS_ARGS, firmware_args(name),
                                           "", 300)
        srat[name], hmat[name] = guest_tables(out)
        if not srat[name]:
            print("srat-gi-compare: q35 ports: no SRAT from %s (QEMU: %s)"
                  % (name, rc))
            return 1
    ok, why, order = compare(srat["ours"], srat["upstream"],
                             (GI_TYPE, GP_TYPE))
    hok, hwhy = compare_hmat(hmat["ours"], hmat["upstream"], srat["ours"])
    print("srat-gi-compare: q35 ports: %s; upstream's order %s; HMAT %s"
          % ("identical bytes and place" if ok else "DIFFERENT", order,
             "the same for memory targets" if hok else "DIFFERENT"))
    for line in why + hwhy:
        print("  " + line)
    return 0 if ok and hok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--guests", action="store_true")
    ap.add_argument("--ports", action="store_true")
    ap.add_argument("--arch", default="x86_64",
                    choices=("x86_64", "aarch64"))
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    if a.ports and len(a.paths) == 3:
        return ports(*a.paths)
    if a.guests and len(a.paths) == 3:
        return guests(*a.paths, a.arch)
    if not a.guests and len(a.paths) == 2:
        return files(*a.paths)
    ap.error("OURS UPSTREAM, or --guests OUR-BUILD-DIR UPSTREAM-BIN-DIR "
             "ASSETS-ENV")


if __name__ == "__main__":
    sys.exit(main())
