#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Give a guest the NUMA topology of the host it runs on.

Reads a host's sysfs (--sysfs, default /sys): its NUMA nodes, their CPUs,
memory and distances, the kernel's HMAT view (nodeN/accessK: the best
initiators of each memory node and their latencies and bandwidths),
memory-side caches and the NUMA node of PCI devices; and, where readable
(as root), the ACPI SRAT and HMAT: which host nodes a PCI device is a
generic initiator of, and every initiator-target latency and bandwidth.
Prints what a guest needs to see the same: the topology part of a QEMU
command line (--format qemu, one option and its value per line), or the
model as JSON.  See docs/system/host-topology.rst.

  host-topology.py --memory 16G --device 0000:01:00.0
  host-topology.py --sysfs tests/data/host-topology/grace/sys --unbound \\
      --memory 1G --device 0000:01:00.0 --stand-in pci-testdev
"""

import argparse
import json
import os
import platform
import re
import sys

import numatopo
from numatopo import TopologyError, format_list, parse_list

ARCHES = {"x86_64": "q35", "aarch64": "virt"}
GRANULE_MB = 8                  # QEMU's NUMA node memory alignment (8 MiB)
ARM_FIRST_NODE_MB = 128         # what AAVMF needs in the first RAM node
HMAT_ENTRY_MAX = 0xfffe         # largest HMAT entry QEMU accepts


def note(msg):
    print("host-topology: note: " + msg, file=sys.stderr)


def parse_size_mb(text, what):
    """QEMU's size syntax, in MiB: '2G', '512M', '1024' (MiB)"""
    m = re.fullmatch(r"(\d+)([KMGT]?)i?B?", text.strip(), re.I)
    if not m:
        raise TopologyError("%s: %r is not a size (e.g. 16G, 512M)"
                            % (what, text))
    n, unit = int(m.group(1)), m.group(2).upper()
    kb = n * {"K": 1, "": 1024, "M": 1024, "G": 1 << 20, "T": 1 << 30}[unit]
    if kb % 1024 or kb == 0:
        raise TopologyError("%s: %r is not a whole number of MiB"
                            % (what, text))
    return kb // 1024


def split(total, weights, granule):
    """Split total into len(weights) parts proportional to weights, each a
    multiple of granule and at least one granule (largest remainder)."""
    units = total // granule
    wsum = sum(weights)
    exact = [units * w / wsum for w in weights]
    parts = [max(1, int(e)) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: parts[i] - exact[i])
    k = 0
    while sum(parts) < units:
        parts[order[k % len(order)]] += 1
        k += 1
    while sum(parts) > units:
        i = max((i for i in order if parts[i] > 1),
                key=lambda i: parts[i] - exact[i])
        parts[i] -= 1
    return [p * granule for p in parts]


class Mirror:
    """The guest topology that mirrors a host: built from numatopo's
    read_sysfs() and the options, checked, and printed."""

    def __init__(self, host, args):
        self.host = host
        self.args = args
        self.arch = args.arch
        self.view = numatopo.table_view(host)
        for n in host["notes"]:
            note(n)
        self.pick_devices()
        self.pick_nodes()
        self.place_cpus()
        self.place_memory()
        self.hmat = self.hmat_rows()
        self.fit_hmat()
        self.caches = self.hmat_caches()

    # which host nodes and devices --------------------------------------
    def pick_devices(self):
        self.devices = []
        for k, text in enumerate(self.args.device):
            seg, bus, devfn = numatopo.parse_bdf(text)
            bdf = numatopo.format_bdf(seg, bus, devfn)
            dev = self.host["pci"].get(bdf)
            if dev is None:
                raise TopologyError(
                    "--device %s: no such PCI device on the host (%s)"
                    % (text, os.path.join(self.args.sysfs,
                                          numatopo.PCI_DIR)))
            if any(d["bdf"] == bdf for d in self.devices):
                raise TopologyError("--device %s: given twice" % text)
            gi = []
            if self.view is None:
                note("--device %s: no readable SRAT, so its generic "
                     "initiator nodes are unknown; it goes by its "
                     "numa_node (%d)" % (bdf, dev["numa_node"]))
            else:
                gi = sorted(self.view["gi"].get((seg, bus, devfn), []))
            self.devices.append({
                "bdf": bdf, "id": "hostdev%d" % k, "host_gi": gi,
                "numa_node": dev["numa_node"],
                "behind_port": len(dev["path"]) > 1})

    def pick_nodes(self):
        h = self.host
        online = h["masks"]["online"] or sorted(h["nodes"])
        gi_of = {}
        for d in self.devices:
            for n in d["host_gi"]:
                gi_of.setdefault(n, []).append(d)
        if self.args.nodes is not None:
            try:
                want = parse_list(self.args.nodes)
            except ValueError as e:
                raise TopologyError("--nodes: %s" % e)
            for n in want:
                if n not in h["nodes"] or n not in online:
                    raise TopologyError(
                        "--nodes: host node %d does not exist (online: %s)"
                        % (n, format_list(online)))
        else:
            want = online
        hosts = []
        for n in sorted(set(want)):
            node = h["nodes"][n]
            if not node["cpus"] and not node["mem_kb"] and n not in gi_of:
                why = ("only a generic initiator node: pass the device "
                       "with --device" if n in
                       h["masks"]["has_generic_initiator"] else
                       "no CPUs, no memory, no device passed")
                if self.args.nodes is not None:
                    raise TopologyError("--nodes: host node %d has %s"
                                        % (n, why))
                note("host node %d left out: %s" % (n, why))
                continue
            hosts.append(n)
        if not hosts:
            raise TopologyError("no host node to mirror")
        # guest ids: the host's when every node is mirrored, else dense
        if hosts == list(range(len(hosts))):
            self.g_of = {n: n for n in hosts}
        else:
            self.g_of = {n: g for g, n in enumerate(hosts)}
        self.h_of = {g: n for n, g in self.g_of.items()}
        for d in self.devices:
            left = [n for n in d["host_gi"] if n not in self.g_of]
            if left:
                note("--device %s: its generic initiator host nodes %s "
                     "are not mirrored" % (d["bdf"], format_list(left)))
            d["nodes"] = [self.g_of[n] for n in d["host_gi"]
                          if n in self.g_of]
            nn = d["numa_node"]
            d["guest_node"] = self.g_of.get(nn) if nn >= 0 else None
            if nn >= 0 and d["guest_node"] is None:
                note("--device %s: its numa_node %d is not mirrored"
                     % (d["bdf"], nn))

    # CPUs and memory ----------------------------------------------------
    def place_cpus(self):
        cpu_nodes = [n for n in sorted(self.g_of, key=self.g_of.get)
                     if self.host["nodes"][n]["cpus"]]
        if not cpu_nodes:
            raise TopologyError("none of the mirrored host nodes has CPUs")
        weights = [len(self.host["nodes"][n]["cpus"]) for n in cpu_nodes]
        total = self.args.vcpus or sum(weights)
        if total < len(cpu_nodes):
            raise TopologyError("--vcpus %d: the mirrored host nodes %s "
                                "have CPUs, one vCPU each at least"
                                % (total, format_list(cpu_nodes)))
        self.vcpus = total
        self.cpus = {}
        first = 0
        for n, k in zip(cpu_nodes, split(total, weights, 1)):
            self.cpus[self.g_of[n]] = list(range(first, first + k))
            first += k

    def place_memory(self):
        h = self.host["nodes"]
        mem_nodes = [n for n in sorted(self.g_of, key=self.g_of.get)
                     if h[n]["mem_kb"]]
        if not mem_nodes:
            raise TopologyError("none of the mirrored host nodes has "
                                "memory")
        fixed = {}
        for spec in self.args.node_memory:
            n, sep, size = spec.partition("=")
            if not sep or not n.strip().isdigit():
                raise TopologyError("--node-memory %s: not NODE=SIZE" % spec)
            n = int(n)
            if n not in h:
                raise TopologyError("--node-memory %s: host node %d does "
                                    "not exist" % (spec, n))
            if not h[n]["mem_kb"]:
                raise TopologyError("--node-memory %s: host node %d has no "
                                    "memory" % (spec, n))
            if n not in self.g_of:
                raise TopologyError("--node-memory %s: host node %d is not "
                                    "mirrored" % (spec, n))
            mb = parse_size_mb(size, "--node-memory %s" % spec)
            if mb % GRANULE_MB:
                raise TopologyError("--node-memory %s: not a multiple of "
                                    "%d MiB" % (spec, GRANULE_MB))
            fixed[n] = mb
        if self.args.memory is None:
            raise TopologyError("--memory SIZE is needed: how much memory "
                                "the guest gets, spread over the host's "
                                "memory nodes %s" % format_list(mem_nodes))
        total = parse_size_mb(self.args.memory, "--memory")
        rest = [n for n in mem_nodes if n not in fixed]
        left = total - sum(fixed.values())
        if left < GRANULE_MB * len(rest) or (not rest and left):
            raise TopologyError(
                "--memory %s: %d MiB cannot hold %s and %d MiB for each of "
                "the host's other memory nodes %s" % (
                    self.args.memory, total, ", ".join(
                        "%d MiB for node %d" % (v, k)
                        for k, v in fixed.items()) or "nothing",
                    GRANULE_MB, format_list(rest)))
        sizes = dict(fixed)
        if rest:
            sizes.update(zip(rest, split(left, [h[n]["mem_kb"]
                                                for n in rest], GRANULE_MB)))
        if self.arch == "aarch64" and sizes[mem_nodes[0]] < ARM_FIRST_NODE_MB:
            note("guest node %d gets %d MiB: Arm guests' UEFI firmware "
                 "needs %d MiB in the first memory node"
                 % (self.g_of[mem_nodes[0]], sizes[mem_nodes[0]],
                    ARM_FIRST_NODE_MB))
        self.memory_mb = total
        self.mem = {self.g_of[n]: mb for n, mb in sizes.items()}

    # HMAT -------------------------------------------------------------
    def initiators(self):
        """guest nodes that are initiators: CPUs or a generic initiator"""
        out = set(self.cpus)
        for d in self.devices:
            out.update(d["nodes"])
        return out

    def hmat_rows(self):
        """{(hierarchy, data type): {(guest initiator, guest target):
        value}} from the host's HMAT, or else from sysfs's accessK."""
        inits = self.initiators()
        rows = {}
        dropped = set()
        hv = self.view and self.view["hmat"]
        if hv:
            self.attached = {}
            for m, i in hv["attached"].items():
                if m in self.g_of and i in self.g_of and \
                        self.g_of[i] in inits and \
                        self.g_of[m] not in self.cpus:
                    self.attached[self.g_of[m]] = self.g_of[i]
            for lb in hv["lb"]:
                for (i, t), v in sorted(lb["values"].items()):
                    if i not in self.g_of or t not in self.g_of or \
                            self.g_of[i] not in inits:
                        dropped.add((i, t))
                        continue
                    rows.setdefault((lb["hierarchy"], lb["data_type"]),
                                    {})[(self.g_of[i], self.g_of[t])] = v
            src = "the host's HMAT"
        else:
            self.attached = {}
            # the kernel's view: the best initiators of each memory node
            # and their values; read != write becomes separate rows
            pairs = {}
            for t in self.g_of:
                for acc in self.host["nodes"][t]["access"].values():
                    for i in acc["initiators"]:
                        if i not in self.g_of or self.g_of[i] not in inits:
                            dropped.add((i, t))
                            continue
                        pairs[(self.g_of[i], self.g_of[t])] = acc
            for kind, (r, w), base in (
                    ("latency", ("read_latency", "write_latency"), 0),
                    ("bandwidth", ("read_bandwidth", "write_bandwidth"), 3)):
                vals = {p: (a.get(r, 0), a.get(w, 0))
                        for p, a in pairs.items()}
                if all(rv == wv for rv, wv in vals.values()):
                    types = ((base, 0),)
                else:
                    types = ((base + 1, 0), (base + 2, 1))
                for dtype, k in types:
                    for p, v in vals.items():
                        if v[k]:
                            rows.setdefault((0, dtype), {})[p] = v[k]
            src = "the kernel's access0/access1 (best initiators only)"
        if dropped:
            note("HMAT entries of host initiator-target pairs %s left out: "
                 "not mirrored, or the initiator is not one in the guest"
                 % ", ".join("%d-%d" % p for p in sorted(dropped)))
        self.hmat_source = src if rows else None
        return rows

    def fit_hmat(self):
        """QEMU picks each structure's base unit itself (a power of 10 ns
        for latencies, a power of 2 MiB/s for bandwidths) and stores
        16-bit entries: where the host's values cannot all be written
        exactly, round them to the coarsest base needed and say so."""
        for (hier, dtype), vals in sorted(self.hmat.items()):
            step = 10 if dtype <= 2 else 2
            if dtype <= 2:
                def fits(b):
                    return max(vals.values()) // b <= HMAT_ENTRY_MAX
            else:
                def fits(b):
                    v = [x // b for x in vals.values()]
                    return max(v) <= HMAT_ENTRY_MAX and \
                        max(v).bit_length() - 1 <= 16
            b = 1
            while not fits(b):
                b *= step
            if b == 1 or all(v % b == 0 for v in vals.values()):
                continue
            changed = []
            for p, v in vals.items():
                r = max(b, (v + b // 2) // b * b)
                if r != v:
                    changed.append("%d-%d: %d -> %d" % (p + (v, r)))
                    vals[p] = r
            note("HMAT %s (%s): the values span more than 16 bits; "
                 "rounded to multiples of %d: %s"
                 % (numatopo.HMAT_DATA_TYPES[dtype],
                    numatopo.HMAT_HIERARCHY[hier], b, "; ".join(changed)))

    def hmat_caches(self):
        caches = []
        lat = {t for (h, d), v in self.hmat.items() if h == 0 and d <= 2
               for (_, t) in v}
        bw = {t for (h, d), v in self.hmat.items() if h == 0 and d >= 3
              for (_, t) in v}
        for n in sorted(self.g_of, key=self.g_of.get):
            g = self.g_of[n]
            for c in sorted(self.host["nodes"][n]["caches"],
                            key=lambda c: c["level"]):
                if g not in lat or g not in bw:
                    note("memory-side cache of host node %d left out: QEMU "
                         "needs the node's HMAT latency and bandwidth" % n)
                    break
                caches.append(dict(c, node=g))
        return caches

    # output -------------------------------------------------------------
    def machine(self):
        return ARCHES[self.arch] + (",hmat=on" if self.hmat else "")

    def options(self):
        """[(option, value)] of the QEMU command line"""
        a = [("-machine", self.machine()), ("-smp", str(self.vcpus)),
             ("-m", "%dM" % self.memory_mb)]
        for g in sorted(self.h_of):
            h = self.h_of[g]
            opt = "node,nodeid=%d" % g
            if g in self.cpus:
                opt += ",cpus=" + format_list(self.cpus[g])
            if g in self.mem:
                be = "memory-backend-ram,id=mem%d,size=%dM" % (g, self.mem[g])
                if not self.args.unbound:
                    be += ",host-nodes=%d,policy=bind" % h
                a.append(("-object", be))
                opt += ",memdev=mem%d" % g
            if g in self.attached:
                opt += ",initiator=%d" % self.attached[g]
            a.append(("-numa", opt))
        a += self.distance_options()
        for (hier, dtype), vals in sorted(self.hmat.items()):
            for (i, t), v in sorted(vals.items()):
                val = ("latency=%d" % v if dtype <= 2 else
                       "bandwidth=%dM" % v)
                a.append(("-numa", "hmat-lb,initiator=%d,target=%d,"
                          "hierarchy=%s,data-type=%s,%s" % (
                              i, t, numatopo.HMAT_HIERARCHY[hier],
                              numatopo.HMAT_DATA_TYPES[dtype], val)))
        for c in self.caches:
            a.append(("-numa", "hmat-cache,node-id=%d,size=%d,level=%d,"
                      "associativity=%s,policy=%s,line=%d" % (
                          c["node"], c["size"], c["level"],
                          numatopo.CACHE_INDEXING[c["indexing"]],
                          numatopo.CACHE_WRITE_POLICY[c["write_policy"]],
                          c["line_size"])))
        a += self.device_options()
        if not self.args.unbound:
            for g in sorted(self.cpus):
                a.append(("-object", "vcpu-affinity,id=va-node%d,node=%d,"
                          "host-nodes=%d" % (g, g, self.h_of[g])))
        return a

    def distance_options(self):
        online = self.host["masks"]["online"] or sorted(self.host["nodes"])
        dist = {}
        for n in self.g_of:
            row = self.host["nodes"][n]["distance"]
            if len(row) != len(online):
                note("host node %d: %d distances for %d online nodes: no "
                     "distances mirrored" % (n, len(row), len(online)))
                return []
            for m, d in zip(online, row):
                if m in self.g_of:
                    dist[(self.g_of[n], self.g_of[m])] = d
        if len(self.g_of) < 2:
            return []
        out = []
        for (a, b), d in sorted(dist.items()):
            if a == b or (a > b and dist.get((b, a)) == d):
                continue
            out.append(("-numa", "dist,src=%d,dst=%d,val=%d" % (a, b, d)))
        return out

    def device_options(self):
        out = []
        chassis = 0
        for k, d in enumerate(self.devices):
            bus = None
            if d["guest_node"] is not None and not d["nodes"]:
                # no generic initiator: the device's node is its host
                # bridge's (_PXM of a PCIe expander bridge)
                out.append(("-device", "pxb-pcie,id=pxb-%s,bus_nr=%d,"
                            "numa_node=%d" % (d["id"], 128 + 8 * k,
                                              d["guest_node"])))
                bus = "pxb-" + d["id"]
            if d["behind_port"] or bus:
                chassis += 1
                out.append(("-device", "pcie-root-port,id=rp-%s,chassis=%d%s"
                            % (d["id"], chassis,
                               ",bus=" + bus if bus else "")))
                bus = "rp-" + d["id"]
            if self.args.stand_in:
                dev = "%s,id=%s" % (self.args.stand_in, d["id"])
            else:
                dev = "vfio-pci,host=%s,id=%s" % (d["bdf"], d["id"])
            out.append(("-device", dev + (",bus=" + bus if bus else "")))
        for d in self.devices:
            for g in d["nodes"]:
                out.append(("-object", "acpi-generic-initiator,id=gi-%s-%d,"
                            "pci-dev=%s,node=%d" % (d["id"], g, d["id"], g)))
        return out

    def comments(self):
        h = self.host["nodes"]
        c = ["host-topology.py: %d host nodes mirrored from %s (%s, %s)"
             % (len(self.g_of), self.args.sysfs, self.arch,
                "unbound" if self.args.unbound else
                "memory and vCPUs bound to their host nodes")]
        same = all(g == n for n, g in self.g_of.items())
        c.append("guest node ids %s host node ids" %
                 ("=" if same else "!="))
        for g in sorted(self.h_of):
            n = self.h_of[g]
            what = []
            if g in self.cpus:
                what.append("vCPUs %s (host CPUs %s)" % (
                    format_list(self.cpus[g]), format_list(h[n]["cpus"])))
            if g in self.mem:
                what.append("%d MiB (host %d MiB)" % (self.mem[g],
                                                      h[n]["mem_kb"] // 1024))
            gis = [d["bdf"] for d in self.devices if g in d["nodes"]]
            if gis:
                what.append("generic initiator of " + ", ".join(gis))
            c.append("guest node %d = host node %d: %s"
                     % (g, n, "; ".join(what)))
        if self.hmat_source:
            c.append("HMAT from %s" % self.hmat_source)
        for d in self.devices:
            c.append("%s = host %s%s" % (
                d["id"], d["bdf"],
                " (stood in for by %s)" % self.args.stand_in
                if self.args.stand_in else ""))
        return c

    def model(self):
        return {
            "arch": self.arch, "machine": self.machine(),
            "vcpus": self.vcpus, "memory_mb": self.memory_mb,
            "bound": not self.args.unbound,
            "nodes": [{"guest": g, "host": self.h_of[g],
                       "cpus": self.cpus.get(g, []),
                       "memory_mb": self.mem.get(g, 0),
                       "initiator": self.attached.get(g)}
                      for g in sorted(self.h_of)],
            "devices": [{k: d[k] for k in ("id", "bdf", "nodes",
                                           "guest_node", "behind_port")}
                        for d in self.devices],
            "hmat": [{"hierarchy": numatopo.HMAT_HIERARCHY[h],
                      "data_type": numatopo.HMAT_DATA_TYPES[t],
                      "initiator": i, "target": tg, "value": v}
                     for (h, t), vals in sorted(self.hmat.items())
                     for (i, tg), v in sorted(vals.items())],
            "hmat_source": self.hmat_source,
            "caches": self.caches,
            "options": [list(o) for o in self.options()],
        }


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Notes on what was left out or approximated go to stderr.")
    ap.add_argument("--sysfs", default="/sys",
                    help="sysfs root to read (default /sys)")
    ap.add_argument("--vcpus", type=int,
                    help="vCPUs, spread over the mirrored CPU nodes in "
                    "proportion to their CPUs (default: one per host CPU)")
    ap.add_argument("--memory", metavar="SIZE",
                    help="guest memory (e.g. 16G), spread over the "
                    "mirrored memory nodes in proportion to their memory")
    ap.add_argument("--node-memory", metavar="NODE=SIZE", action="append",
                    default=[], help="this much of --memory on host node "
                    "NODE (repeatable)")
    ap.add_argument("--nodes", metavar="LIST",
                    help="host nodes to mirror (default: every online node)")
    ap.add_argument("--device", metavar="BDF", action="append", default=[],
                    help="a host PCI device to pass through (repeatable)")
    ap.add_argument("--stand-in", metavar="DRIVER",
                    help="an emulated device (e.g. pci-testdev) in place of "
                    "vfio-pci,host=BDF, placed the same way")
    ap.add_argument("--arch", choices=sorted(ARCHES),
                    help="guest architecture (default: the host's)")
    ap.add_argument("--unbound", action="store_true",
                    help="no host-nodes binding of memory and no "
                    "vcpu-affinity rules: to try a host's shape elsewhere")
    ap.add_argument("--format", choices=("qemu", "json"), default="qemu")
    args = ap.parse_args(argv)
    if args.arch is None:
        args.arch = platform.machine()
        if args.arch not in ARCHES:
            ap.error("--arch: this host is %s; say x86_64 or aarch64"
                     % args.arch)
    if args.vcpus is not None and args.vcpus < 1:
        ap.error("--vcpus %d: at least 1" % args.vcpus)
    try:
        host = numatopo.read_sysfs(args.sysfs)
        m = Mirror(host, args)
        if args.format == "json":
            json.dump(m.model(), sys.stdout, indent=2, sort_keys=True)
            print()
        else:
            for c in m.comments():
                print("# " + c)
            for opt, val in m.options():
                print(opt, val)
    except (TopologyError, OSError, ValueError) as e:
        print("host-topology: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
