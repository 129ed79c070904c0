#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Print libvirt domain XML for generic initiator NUMA nodes.

libvirt 9.0 (Debian 12) has no element for acpi-generic-initiator objects
and cannot declare a NUMA cell without memory, which is what a node that
only holds a device's generic initiator is.  Such a domain keeps its
memory-bearing cells and their HMAT in libvirt's own <cpu><numa> XML, and
passes the rest to QEMU in <qemu:commandline>:

  - one '-numa node,nodeid=N' per generic-initiator-only node; their ids
    follow libvirt's cells (QEMU wants node ids without holes);
  - one JSON '-object acpi-generic-initiator' per (device, node), the
    device named by its libvirt alias (a user alias: 'ua-...');
  - '-numa hmat-lb' rows whose initiator or target is such a node
    (libvirt only writes <interconnects> between cells it knows).

Fragment mode prints that <qemu:commandline> element:

  gi-libvirt.py --gi ua-gpu0:1-8 --hmat-lb 1-8:0:300:4000

Topology mode reads a topology file of tests/guest/topologies (JSON) and
prints the <numa> element (cells with CPUs and memory, and their HMAT as
<interconnects>) and the <qemu:commandline> element; with --domain, a
whole domain that boots a kernel and initrd under TCG, each topology
device stood in for by a virtio-rng device with the user alias
'ua-DEVICE' (for a real GPU, use a <hostdev> with that alias instead).
"""

import argparse
import sys

import numaconfig as nc
from numaconfig import QEMU_NS
from numatopo import format_list, parse_list


class Spec:
    """Nodes, generic initiators and HMAT rows of one domain"""

    def __init__(self, ncells=None):
        self.cells = {}        # id -> (cpus text, MiB): libvirt's cells
        self.ncells = ncells   # how many, when their sizes are not known
        self.gi_nodes = []     # generic-initiator-only node ids
        self.gis = []          # (alias, node)
        self.lb = []           # (initiator, target, ns, MB/s)
        self.devices = []

    @classmethod
    def from_topology(cls, path):
        t = nc.Topology(path)
        s = cls()
        for i, n in sorted(t.nodes.items()):
            if n["mem"]:
                if not n["cpus"] and n["initiator"] is not None:
                    raise SystemExit("%s: node %d: libvirt 9.0 picks the "
                                     "initiator of a cell without CPUs "
                                     "itself (its best by latency)"
                                     % (path, i))
                s.cells[i] = (n["cpus_text"], n["mem"])
            elif n["cpus"]:
                raise SystemExit("%s: node %d has CPUs but no memory: "
                                 "libvirt 9.0 cannot declare it"
                                 % (path, i))
            else:
                s.gi_nodes.append(i)
        s.ncells = len(s.cells)
        s.devices = t.devices
        for d in s.devices:
            if d.get("multifunction"):
                raise SystemExit("%s: device %s: --domain has no "
                                 "multifunction stand-in" % (path, d["id"]))
            for n in d["nodes"]:
                s.gis.append(("ua-" + d["id"], n))
        s.lb = [(i, tg, lat, bw) for (i, tg), (lat, bw) in t.lb.items()]
        s.check()
        return s

    def check(self):
        """Raise SystemExit with the reason if QEMU or libvirt would refuse
        the domain"""
        first = self.ncells
        want = list(range(first, first + len(self.gi_nodes)))
        if sorted(self.gi_nodes) != want:
            raise SystemExit(
                "the generic initiator nodes must follow libvirt's %d "
                "cell%s without holes (QEMU wants node ids without holes): "
                "expected %s, got %s" % (
                    first, "" if first == 1 else "s",
                    format_list(want) or "none",
                    format_list(self.gi_nodes) or "none"))
        if self.cells and sorted(self.cells) != list(range(first)):
            raise SystemExit("libvirt's cells come first: every node with "
                             "memory needs a lower id than every node "
                             "without")
        seen = set()
        for alias, n in self.gis:
            if not nc.ALIAS.match(alias):
                raise SystemExit("device alias %r: libvirt's user aliases "
                                 "are 'ua-' and then letters, digits, '_' "
                                 "or '-'" % alias)
            if (alias, n) in seen:
                raise SystemExit("%s is in node %d twice" % (alias, n))
            seen.add((alias, n))
        nodes = first + len(self.gi_nodes)
        for i, t, _, _ in self.lb:
            if i >= nodes or t >= nodes:
                raise SystemExit("HMAT row %d -> %d: nodes are 0-%d"
                                 % (i, t, nodes - 1))
            if not self.cells and i < first and t < first:
                raise SystemExit("HMAT row %d -> %d is between libvirt "
                                 "cells: write it in <interconnects>"
                                 % (i, t))

    def libvirt_lb(self):
        """The HMAT rows libvirt can write: between cells"""
        return [e for e in self.lb if e[0] in self.cells and
                e[1] in self.cells]

    def qemu_lb(self):
        return [e for e in self.lb if not (e[0] in self.cells and
                                           e[1] in self.cells)]

    def needs_hmat_on(self):
        """libvirt turns HMAT on only for <interconnects>: with rows in
        <qemu:commandline> alone, that has to say -machine hmat=on too"""
        return bool(self.lb) and not self.libvirt_lb()


def commandline(spec, hmat_on=False):
    """The <qemu:commandline> element"""
    cl = nc.commandline()
    if hmat_on:
        nc.arguments(cl, "no <interconnects> in the XML: libvirt will not "
                     "turn HMAT on", ["-machine", "hmat=on"])
    nc.arguments(cl, "NUMA nodes %s: generic initiators only, no memory "
                 "(libvirt 9.0 cannot declare them)"
                 % format_list(spec.gi_nodes),
                 nc.node_arguments(spec.gi_nodes))
    by_alias = {}
    for alias, n in spec.gis:
        by_alias.setdefault(alias, []).append(n)
    for k, (alias, nodes) in enumerate(by_alias.items()):
        nc.arguments(cl, "device %d: a generic initiator in node%s %s"
                     % (k, "s" if len(nodes) > 1 else "", format_list(nodes)),
                     nc.initiator_arguments(alias, nodes))
    rows = []
    for i, t, lat, bw in spec.qemu_lb():
        rows += ["-numa", nc.hmat_lb(i, t, 0, 0, lat),
                 "-numa", nc.hmat_lb(i, t, 0, 3, bw)]
    nc.arguments(cl, "HMAT rows with a generic initiator node", rows)
    return cl


def numa(spec, parent=None):
    """The <numa> element (child of <cpu>)"""
    el = nc.element(parent, "numa")
    for i in sorted(spec.cells):
        cpus, mib = spec.cells[i]
        nc.cell(el, i, mib, parse_list(cpus))
    for i, t, lat, bw in spec.libvirt_lb():
        nc.interconnect(el, i, t, 0, lat)
        nc.interconnect(el, i, t, 3, bw)
    return el


def domain(spec, a):
    """A whole TCG domain booting a kernel and initrd"""
    cpus = [c for text, _ in spec.cells.values() for c in parse_list(text)]
    if not cpus:
        raise SystemExit("--domain: no cell has CPUs")
    root = nc.test_domain(a, a.arch, sum(m for _, m in spec.cells.values()),
                          max(cpus) + 1)
    numa(spec, root.find("cpu"))
    devices = root.find("devices")
    for k, d in enumerate(spec.devices):
        if d.get("root-port"):
            bus, slot = k + 1, 0
        else:
            bus, slot = 0, 0x10 + k
        nc.stand_in(devices, "ua-" + d["id"], bus, slot, "a GPU")
    root.append(commandline(spec, hmat_on=spec.needs_hmat_on()))
    return root


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--gi", action="append", default=[],
                    metavar="ALIAS:NODES",
                    help="device ALIAS is a generic initiator in NODES "
                    "(e.g. ua-gpu0:1-8); NODES are created")
    ap.add_argument("--hmat-lb", action="append", default=[],
                    metavar="INITIATORS:TARGET:NS:MBS",
                    help="access latency NS and bandwidth MBS (MB/s) from "
                    "each of INITIATORS to TARGET (e.g. 1-8:0:300:4000)")
    ap.add_argument("--hmat-on", action="store_true",
                    help="also pass -machine hmat=on (when the XML has no "
                    "<interconnects>)")
    ap.add_argument("--topology", help="a tests/guest/topologies file")
    ap.add_argument("--arch", default="x86_64",
                    choices=["x86_64", "aarch64"])
    ap.add_argument("--cells", type=int,
                    help="how many cells the domain's <numa> has (default: "
                    "the lowest --gi node); the --gi nodes follow them")
    nc.add_domain_options(ap, "numa-gi")
    a = ap.parse_args()

    if a.topology:
        if a.gi or a.hmat_lb:
            ap.error("--topology cannot be combined with --gi/--hmat-lb")
        spec = Spec.from_topology(a.topology)
        if a.domain:
            print(nc.to_text(domain(spec, a)))
            return 0
        print(nc.to_text(nc.comment(None, "in <cpu>:")))
        print(nc.to_text(numa(spec)))
        print(nc.to_text(nc.comment(None, "in <domain xmlns:qemu='%s'>:"
                                    % QEMU_NS)))
        print(nc.to_text(commandline(spec, a.hmat_on or
                                     spec.needs_hmat_on())))
        return 0
    if a.domain:
        ap.error("--domain needs --topology")
    if not a.gi:
        ap.error("give --gi ALIAS:NODES (or --topology FILE)")
    gis = []
    for g in a.gi:
        alias, sep, nodes = g.rpartition(":")
        try:
            ids = parse_list(nodes)
        except ValueError:
            ids = []
        if not sep or not alias or not ids or min(ids) < 0:
            ap.error("--gi %r: expected ALIAS:NODES, e.g. ua-gpu0:1-8" % g)
        gis += [(alias, n) for n in ids]
    spec = Spec(a.cells if a.cells is not None
                else min(n for _, n in gis))
    spec.gis = gis
    spec.gi_nodes = sorted(set(n for _, n in gis))
    for h in a.hmat_lb:
        try:
            inits, target, lat, bw = h.split(":")
            for i in parse_list(inits):
                spec.lb.append((i, int(target), int(lat), int(bw)))
        except ValueError:
            ap.error("--hmat-lb %r: expected INITIATORS:TARGET:NS:MBS, e.g. "
                     "1-8:0:300:4000" % h)
    spec.check()
    print(nc.to_text(nc.comment(None, "in <domain xmlns:qemu='%s'>:"
                                % QEMU_NS)))
    print(nc.to_text(commandline(spec, a.hmat_on)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
