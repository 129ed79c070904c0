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
command line (--format qemu, one option and its value per line; --format
args, one shell-quoted line), the model as JSON, or libvirt domain XML.
Or, given a QEMU command after "--", runs it with the topology's options
put after the program name.  See docs/system/host-topology.rst.

  host-topology.py --memory 16G --device 0000:01:00.0 -- \\
      qemu-system-x86_64 -accel kvm -display none
  eval qemu-system-x86_64 -accel kvm -display none \\
      "$(host-topology.py --format args --memory 16G --device 0000:01:00.0)"
  host-topology.py --sysfs tests/data/host-topology/grace/sys --unbound \\
      --memory 1G --device 0000:01:00.0 --stand-in pci-testdev

--format libvirt prints a <domain> holding the NUMA topology parts of a
domain, to put into an existing one (virsh edit): <memory>, <vcpu>,
<features><acpi/>, the <numa> of <cpu>, the devices (a <hostdev> with
user alias ua-hostdevK each, behind a pcie-root-port where the host has
one), <cputune> and <numatune> (unless --unbound) and <qemu:commandline>
for what libvirt 9.0 cannot say (docs/system/libvirt.rst).  Guest node
ids are libvirt's: nodes with memory first, then generic-initiator-only
nodes; comments map them to host nodes.  With --domain it prints a
whole TCG test domain booting --kernel and --initrd instead.  With
--stand-in, each device is a virtio-rng device with the same alias.
Notes on what was left out or approximated go to stderr.
"""

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import sys

import numaconfig as nc
import numatopo
from numatopo import TopologyError, format_list, parse_list

ARCHES = nc.MACHINES             # the guest machine of each architecture
GRANULE_MB = 8                  # QEMU's NUMA node memory alignment (8 MiB)
ARM_FIRST_NODE_MB = 128         # what AAVMF needs in the first RAM node
HMAT_ENTRY_MAX = 0xfffe         # largest HMAT entry QEMU accepts
ROOT_BUS = "pcie.0"             # the root PCIe bus of q35 and virt


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
        self.dist = self.distances()
        self.tree = self.plan_tree()

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
        online = h["masks"]["online"]
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
        # guest ids: libvirt's (cells, i.e. nodes with memory, first, then
        # the others, each in host order), or the host's when every node
        # is mirrored, else dense
        if self.args.libvirt_ids:
            hosts = [n for n in hosts if h["nodes"][n]["mem_kb"]] + \
                    [n for n in hosts if not h["nodes"][n]["mem_kb"]]
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
        self.attached = {}
        if hv:
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
            for (r, w), base in (
                    (("read_latency", "write_latency"), 0),
                    (("read_bandwidth", "write_bandwidth"), 3)):
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
        # QEMU's HMAT targets are the nodes with memory, as Linux's are
        memless = sorted({t for vals in rows.values() for (_, t) in vals
                          if t not in self.mem})
        if memless:
            for vals in rows.values():
                for p in [p for p in vals if p[1] in memless]:
                    del vals[p]
            rows = {k: v for k, v in rows.items() if v}
            note("HMAT entries with guest target %s left out: no memory "
                 "there, and HMAT targets are memory nodes"
                 % ", ".join(map(str, memless)))
        self.hmat_source = src if rows else None
        return rows

    def fit_hmat(self):
        """QEMU picks each structure's base unit itself (a power of 10 ns
        for latencies, a power of 2 MiB/s for bandwidths) and stores
        16-bit entries: where the host's values cannot all be written
        exactly, round them to the coarsest base needed and say so."""
        for (hier, dtype), vals in sorted(self.hmat.items()):
            step = 10 if dtype <= 2 else 2
            b = 1
            while max(vals.values()) // b > HMAT_ENTRY_MAX:
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

    def hmat_list(self):
        """[(hierarchy, data type, initiator, target, value)], sorted"""
        return [(hier, dtype, i, t, v)
                for (hier, dtype), vals in sorted(self.hmat.items())
                for (i, t), v in sorted(vals.items())]

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
        for hier, dtype, i, t, v in self.hmat_list():
            a.append(("-numa", nc.hmat_lb(i, t, hier, dtype, v)))
        for c in self.caches:
            a.append(("-numa", nc.hmat_cache(c["node"], c)))
        a += self.device_options()
        if not self.args.unbound:
            for g in sorted(self.cpus):
                a.append(("-object", "vcpu-affinity,id=va-node%d,node=%d,"
                          "host-nodes=%d" % (g, g, self.h_of[g])))
        return a

    def distances(self):
        """{(guest node, guest node): distance} from sysfs, or {}"""
        online = self.host["masks"]["online"]
        dist = {}
        for n in self.g_of:
            row = self.host["nodes"][n]["distance"]
            if len(row) != len(online):
                note("host node %d: %d distances for %d online nodes: no "
                     "distances mirrored" % (n, len(row), len(online)))
                return {}
            for m, d in zip(online, row):
                if m in self.g_of:
                    dist[(self.g_of[n], self.g_of[m])] = d
        return dist if len(self.g_of) >= 2 else {}

    def distance_options(self, touching=None):
        """'-numa dist' for every pair (of those with a node in TOUCHING):
        one direction where both are equal, unless some pair differs, in
        which case QEMU wants both directions of every pair"""
        d = self.dist
        both = any(v != d.get((b, a), v) for (a, b), v in d.items())
        return [("-numa", "dist,src=%d,dst=%d,val=%d" % (a, b, v))
                for (a, b), v in sorted(d.items())
                if a != b and (both or a < b or d.get((b, a)) != v) and
                (touching is None or a in touching or b in touching)]

    def plan_tree(self):
        """The guest's PCIe tree, the host's shape (docs/system/
        host-topology.rst, "The PCIe tree"): [bridge], in the order of
        the devices.  A bridge mirrors a host bridge (by its NUMA node):
        the root bus (id pcie.0) for the host's root bus without a node,
        else a pxb-pcie.  Below it, in "items": ("bus", FUNCS) on the
        root bus itself; ("port", RP, FUNCS) a root port alone;
        ("switch", RP, UP, [(DOWN, FUNCS)]) a root port with a switch.
        FUNCS: the functions of one host device (entries of
        self.devices), function 0 first."""
        # the functions of one host device stay one guest device when
        # its function 0 is passed; a function passed without it (a VF,
        # say) is a device of its own, function 0 in the guest
        passed = set(d["bdf"] for d in self.devices)
        devs = {}
        for d in self.devices:
            key = d["bdf"][:-2] if d["bdf"][:-1] + "0" in passed \
                else d["bdf"]
            devs.setdefault(key, []).append(d)
        bridges = {}
        for fs in devs.values():
            fs.sort(key=lambda f: f["bdf"])
            lead = fs[0]
            host = self.host["pci"][lead["bdf"]]
            hb, node = host["host_bridge"], lead["guest_node"]
            b = bridges.get((hb, node))
            if b is None:
                root = node is None and hb.endswith(":00")
                b = bridges[(hb, node)] = {
                    "id": ROOT_BUS if root else "pxb-" + lead["id"],
                    "host": hb, "node": node, "items": [], "ports": {}}
            place = numatopo.pci_place(host)
            if place[0] == "bus" and b["id"] == ROOT_BUS:
                b["items"].append(("bus", fs))
            elif place[0] == "switch":
                sw = b["ports"].get(place[1:3])
                if sw is None:
                    sw = b["ports"][place[1:3]] = [
                        "switch", "rp-" + lead["id"], "sw-" + lead["id"], []]
                    b["items"].append(sw)
                sw[3].append(("ds-" + lead["id"], fs))
            else:
                # alone behind a root port (on an expander's bus too:
                # a pxb-pcie takes bridges only)
                b["items"].append(("port", "rp-" + lead["id"], fs))
        return list(bridges.values())

    def device_options(self):
        """Every -device names its bus: QEMU puts a PCI device without
        bus= on the last PCI bus created, which after a pxb-pcie is the
        expander's, not the root bus (a root port would land behind the
        expander, and a second expander cannot plug into the first).
        Numbering (docs/system/host-topology.rst): the k-th expander
        starts at bus 128 + 16 k, so each has 16 bus numbers for its
        ports and for ports hot-plugged later; root ports and downstream
        ports take chassis 1, 2, ... in order, each with slot 0."""
        out = []
        chassis = 0
        slot = 0x10
        pxb = 0

        def functions(fs, bus, addr_slot):
            for f in fs:
                if self.args.stand_in:
                    dev = "%s,id=%s" % (self.args.stand_in, f["id"])
                else:
                    dev = "vfio-pci,host=%s,id=%s" % (f["bdf"], f["id"])
                dev += ",bus=" + bus
                if len(fs) > 1 or addr_slot:
                    dev += ",addr=0x%x.%s" % (addr_slot, f["bdf"][-1])
                    if len(fs) > 1 and f is fs[0]:
                        dev += ",multifunction=on"
                out.append(("-device", dev))

        for b in self.tree:
            if b["id"] != ROOT_BUS:
                out.append(("-device", "pxb-pcie,id=%s,bus_nr=%d,%sbus=%s"
                            % (b["id"], 128 + 16 * pxb,
                               "numa_node=%d," % b["node"]
                               if b["node"] is not None else "",
                               ROOT_BUS)))
                pxb += 1
            for item in b["items"]:
                if item[0] == "bus":
                    functions(item[1], b["id"], slot)
                    slot += 1
                    continue
                chassis += 1
                out.append(("-device", "pcie-root-port,id=%s,chassis=%d,"
                            "bus=%s" % (item[1], chassis, b["id"])))
                if item[0] == "port":
                    functions(item[2], item[1], 0)
                    continue
                out.append(("-device", "x3130-upstream,id=%s,bus=%s"
                            % (item[2], item[1])))
                for down, fs in item[3]:
                    chassis += 1
                    out.append(("-device", "xio3130-downstream,id=%s,"
                                "chassis=%d,slot=0,bus=%s"
                                % (down, chassis, item[2])))
                    functions(fs, down, 0)
        for d in self.devices:
            for g in d["nodes"]:
                out.append(("-object", nc.object_keyval(
                    nc.generic_initiator(d["id"], g))))
        return out

    def tree_model(self):
        """plan_tree() for --format json: per guest bridge, the host
        bridge it mirrors, its node, and its ports, switches and devices
        (by id and host address)"""
        def funcs(fs):
            return [{"id": f["id"], "bdf": f["bdf"]} for f in fs]
        out = []
        for b in self.tree:
            items = []
            for it in b["items"]:
                if it[0] == "bus":
                    items.append({"on_bus": funcs(it[1])})
                elif it[0] == "port":
                    items.append({"root_port": it[1],
                                  "functions": funcs(it[2])})
                else:
                    items.append({"root_port": it[1], "switch": it[2],
                                  "downstream": [
                                      {"port": dn, "functions": funcs(fs)}
                                      for dn, fs in it[3]]})
            out.append({"bus": b["id"], "host_bridge": b["host"],
                        "node": b["node"], "items": items})
        return out

    def comments(self, libvirt=False):
        """What was mirrored, as comment lines; LIBVIRT: the devices by
        their libvirt alias"""
        h = self.host["nodes"]
        c = ["host-topology.py: %d host nodes mirrored from %s (%s, %s)"
             % (len(self.g_of), self.args.sysfs, self.arch,
                "unbound" if self.args.unbound else
                "memory and vCPUs bound to their host nodes")]
        same = all(g == n for n, g in self.g_of.items())
        c.append("guest node ids %s host node ids%s" % (
            "=" if same else "!=", " (libvirt's: nodes with memory first, "
            "then the others)" if self.args.libvirt_ids else ""))
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
        stand_in = "a virtio-rng device" if libvirt else self.args.stand_in
        for d in self.devices:
            c.append("%s = host %s%s" % (
                "ua-" + d["id"] if libvirt else d["id"], d["bdf"],
                " (stood in for by %s)" % stand_in
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
            "tree": self.tree_model(),
            "libvirt_ids": self.args.libvirt_ids,
            "hmat": [{"hierarchy": numatopo.HMAT_HIERARCHY[h],
                      "data_type": numatopo.HMAT_DATA_TYPES[t],
                      "initiator": i, "target": tg, "value": v}
                     for h, t, i, tg, v in self.hmat_list()],
            "hmat_source": self.hmat_source,
            "caches": self.caches,
            "options": [list(o) for o in self.options()],
        }


# libvirt versions: the native form of generic initiators (<hostdev> with
# <acpi nodeset>, <cell memory='0'>) came with 11.8
LIBVIRT_NATIVE = (11, 8)


class LibvirtDomain:
    """A Mirror as libvirt domain XML (docs/system/libvirt.rst).

    libvirt's own XML says what libvirt 9.0 can: the cells (the nodes with
    memory) with their vCPUs, memory, distances and caches, the HMAT rows
    libvirt can write between them, the devices and the placement.
    <qemu:commandline> says the rest: the generic-initiator-only nodes and
    their distances, the acpi-generic-initiator objects, and the HMAT rows
    and caches libvirt cannot write.  With NATIVE (libvirt >= 11.8) the
    generic-initiator-only nodes are <cell memory='0'> and each <hostdev>
    names its nodes in <acpi nodeset>."""

    def __init__(self, mirror, native):
        m = self.m = mirror
        self.native = native
        self.cells = sorted(m.mem)
        self.others = sorted(g for g in m.h_of if g not in m.mem)
        for g in self.others:
            if g in m.cpus:
                raise TopologyError(
                    "--format libvirt: host node %d has CPUs but no memory, "
                    "which libvirt 9.0 cannot declare as a cell; use "
                    "--format qemu, or leave the node out with --nodes"
                    % m.h_of[g])
        # libvirt's cells are 0..k-1 (Mirror.pick_nodes numbers them so)
        assert self.cells == list(range(len(self.cells)))
        self.declared = self.cells + (self.others if native else [])
        # libvirt writes no -numa dist at all when each distance between
        # its cells is the default, 20; QEMU then wants ours for every pair
        self.xml_dist = any(v != 20 for (a, b), v in m.dist.items()
                            if a != b and a in self.declared and
                            b in self.declared)
        self.split_hmat()

    def attachable(self, t):
        """The initiator that libvirt may make the attached initiator of
        cell T (without vCPUs) with the guest still showing what the host
        does: the host's attached initiator, else the node that alone is
        the best initiator of the host's node (access0 and access1); None
        unless that is a cell with vCPUs"""
        m = self.m
        a = m.attached.get(t)
        if a is None:
            best = [m.host["nodes"][m.h_of[t]]["access"].get(k, {}).get(
                "initiators") for k in (0, 1)]
            if best[0] == best[1] and best[0] and len(best[0]) == 1:
                a = m.g_of.get(best[0][0])
        return a if a in m.cpus else None

    def split_hmat(self):
        """Which HMAT rows and caches libvirt writes (<interconnects>,
        <cache>), and which go to <qemu:commandline>.

        libvirt 9.0 takes only cells with vCPUs as initiators, and only one
        direction of a pair of cells ("Link already defined").  As soon as
        its XML has HMAT, it gives every cell without vCPUs an attached
        initiator (-numa node,initiator=): the initiator of its
        lowest-latency row, else of its highest-bandwidth row, else the
        first cell with vCPUs; Linux then lists only that one in the
        node's access0.  So such a cell gets rows from one initiator only,
        the one the guest may have attached (attachable()); if a cell has
        none, libvirt's XML has no HMAT at all and <qemu:commandline> turns
        it on.  QEMU wants a node's rows before its caches, and libvirt
        writes its own rows and caches before our arguments: a node's
        caches are libvirt's only when its rows are."""
        m = self.m
        rows = m.hmat_list()
        inits = {}
        self.unattachable = None
        for t in self.cells:
            if t in m.cpus:
                inits[t] = set(m.cpus)
            else:
                a = self.attachable(t)
                if a is None or not any(r[2] == a and r[3] == t
                                        for r in rows):
                    inits = {}
                    if rows:
                        self.unattachable = t
                        note("--format libvirt: guest node %d (host node "
                             "%d) has no vCPUs and no initiator the guest "
                             "may show as attached: the HMAT goes to "
                             "<qemu:commandline>, all of it (libvirt would "
                             "pick an attached initiator)" % (t, m.h_of[t]))
                    break
                inits[t] = {a}
        xml, links = [], set()
        for r in rows:
            hier, _, i, t, _ = r
            if hier == 0 and i in inits.get(t, ()) and (t, i) not in links:
                xml.append(r)
                if i != t:
                    links.add((i, t))
        self.cache_cells = set()
        for t in inits:
            types = {r[1] for r in xml if r[3] == t}
            caches = [c for c in m.caches if c["node"] == t]
            if caches and min(types, default=3) <= 2 and \
                    max(types, default=0) >= 3 and \
                    all(c["size"] % 1024 == 0 for c in caches):
                self.cache_cells.add(t)
        levels = {(c["node"], c["level"]) for c in m.caches
                  if c["node"] in self.cache_cells}
        for r in rows:
            hier, _, i, t, _ = r
            if hier and (t, hier) in levels and i in inits[t] and \
                    (t, i) not in links:
                xml.append(r)
                if i != t:
                    links.add((i, t))
        self.xml_rows = [r for r in rows if r in xml]
        self.qemu_rows = [r for r in rows if r not in xml]
        self.qemu_caches = [c for c in m.caches
                            if c["node"] not in self.cache_cells]
        self.hmat_on = bool(m.hmat) and not (self.xml_rows or
                                             self.cache_cells)

    # the domain -------------------------------------------------------
    def domain(self, a):
        """The domain element: the topology parts of a domain, or with
        A.domain a whole TCG test domain (A: the options of
        numaconfig.add_domain_options)"""
        m = self.m
        mib = sum(m.mem.values())
        if a.domain:
            root = nc.test_domain(a, m.arch, mib, m.vcpus)
        else:
            root = nc.element(None, "domain", type="kvm")
            nc.comment(root, "the NUMA topology parts of a domain: put each "
                       "element below into yours (virsh edit), the <numa> "
                       "into your <cpu>; the PCI controller indexes and "
                       "addresses must be free there")
            nc.element(root, "memory", mib, unit="MiB")
            nc.element(root, "vcpu", m.vcpus, placement="static")
            nc.element(nc.element(root, "features"), "acpi")
            nc.element(root, "cpu")
            nc.element(root, "devices")
        for k, c in enumerate(m.comments(libvirt=True)):
            root.insert(k, nc.comment(None, c))
        self.numa(nc.element(root.find("cpu"), "numa"))
        self.devices(root.find("devices"))
        if not len(root.find("devices")):
            root.remove(root.find("devices"))
        if not m.args.unbound:
            self.placement(root)
        cl = self.commandline()
        if len(cl):
            root.append(cl)
        return root

    def numa(self, numa):
        """The cells, their distances and caches, and <interconnects>"""
        m = self.m
        for g in self.declared:
            if g in m.mem:
                cell = nc.cell(numa, g, m.mem[g], m.cpus.get(g))
            else:
                cell = nc.element(numa, "cell", id=g, memory=0, unit="KiB")
            sib = [(b, v) for (a, b), v in sorted(m.dist.items())
                   if a == g and b != g and b in self.declared and
                   self.xml_dist]
            if sib:
                ds = nc.element(cell, "distances")
                for b, v in sib:
                    nc.element(ds, "sibling", id=b, value=v)
            if g in self.cache_cells:
                for c in m.caches:
                    if c["node"] == g:
                        nc.cell_cache(cell, c)
        for hier, dtype, i, t, v in self.xml_rows:
            nc.interconnect(numa, i, t, dtype, v, hier)

    def devices(self, devices):
        """The host's PCIe tree as --format qemu builds it
        (Mirror.plan_tree), as libvirt controllers: a pcie-expander-bus
        per mirrored host bridge with a node (<target busNr><node>), a
        pcie-root-port, pcie-switch-upstream-port and
        pcie-switch-downstream-port where the host has them, and each
        device's <address> placing it there, function by function"""
        m = self.m
        index = 0                       # of PCI controllers: 0 is the root
        root_slot = 0x10
        pxbs = 0

        def controller(model, bus=None, slot=0):
            nonlocal index
            index += 1
            c = nc.element(devices, "controller", type="pci", index=index,
                           model=model)
            if bus is not None:
                nc.pci_address(c, bus, slot)
            return index, c

        def place(fs, bus, slot):
            for f in fs:
                alias = "ua-" + f["id"]
                if m.args.stand_in:
                    dev = nc.stand_in(devices, alias, bus, slot,
                                      "host " + f["bdf"])
                else:
                    dev = nc.element(devices, "hostdev", mode="subsystem",
                                     type="pci", managed="yes")
                    seg, hbus, devfn = numatopo.parse_bdf(f["bdf"])
                    nc.element(nc.element(dev, "source"), "address",
                               domain="0x%04x" % seg, bus="0x%02x" % hbus,
                               slot="0x%02x" % (devfn >> 3),
                               function="0x%x" % (devfn & 7))
                    nc.element(dev, "alias", name=alias)
                    nc.pci_address(dev, bus, slot)
                    if self.native and f["nodes"]:
                        nc.element(dev, "acpi",
                                   nodeset=format_list(f["nodes"]))
                if len(fs) > 1:
                    a = dev.find("address")
                    a.set("function", "0x%s" % f["bdf"][-1])
                    if f is fs[0]:
                        a.set("multifunction", "on")

        for b in m.tree:
            bus = 0
            if b["id"] != ROOT_BUS:
                bus, c = controller("pcie-expander-bus")
                nc.element(c, "model", name="pxb-pcie")
                target = nc.element(c, "target", busNr=128 + 16 * pxbs)
                pxbs += 1
                if b["node"] in self.cells:
                    nc.element(target, "node", b["node"])
                elif b["node"] is not None:
                    note("host bridge %s: its node (guest node %d) is no "
                         "libvirt cell: its expander has no node"
                         % (b["host"], b["node"]))
            for item in b["items"]:
                if item[0] == "bus":
                    place(item[1], bus, root_slot)
                    root_slot += 1
                    continue
                rp, _ = controller("pcie-root-port",
                                   bus if bus else None)
                if item[0] == "port":
                    place(item[2], rp, 0)
                    continue
                up, _ = controller("pcie-switch-upstream-port", rp, 0)
                for k, (_, fs) in enumerate(item[3]):
                    down, _ = controller("pcie-switch-downstream-port", up,
                                         k)
                    place(fs, down, 0)

    def placement(self, root):
        """vCPUs on the host CPUs of their node, memory on its host node"""
        m = self.m
        h = m.host["nodes"]
        root.find("vcpu").set("cpuset", format_list(
            c for g in m.cpus for c in h[m.h_of[g]]["cpus"]))
        cputune = nc.element(root, "cputune")
        for g in sorted(m.cpus):
            for v in m.cpus[g]:
                nc.element(cputune, "vcpupin", vcpu=v,
                           cpuset=format_list(h[m.h_of[g]]["cpus"]))
        numatune = nc.element(root, "numatune")
        for g in self.cells:
            nc.element(numatune, "memnode", cellid=g, mode="strict",
                       nodeset=m.h_of[g])

    def commandline(self):
        """What libvirt cannot write, for QEMU directly"""
        m = self.m
        cl = nc.commandline()
        if self.hmat_on:
            nc.arguments(cl, "no HMAT in libvirt's XML: libvirt does not "
                         "turn it on", ["-machine", "hmat=on"])
        extra = [g for g in sorted(m.h_of) if g not in self.declared]
        nc.arguments(cl, "NUMA node%s %s: generic initiators only, no "
                     "memory (libvirt 9.0 cannot declare %s)" % (
                         "s" if len(extra) > 1 else "", format_list(extra),
                         "them" if len(extra) > 1 else "it"),
                     nc.node_arguments(extra))
        if extra:
            nc.arguments(cl, "their distances" if self.xml_dist else
                         "distances (libvirt writes none when all between "
                         "its cells are 20)", [
                             x for o in m.distance_options(
                                 touching=extra if self.xml_dist else None)
                             for x in o])
        for d in m.devices:
            if d["nodes"] and (m.args.stand_in or not self.native):
                nc.arguments(cl, "ua-%s (host %s) is a generic initiator in "
                             "node%s %s" % (d["id"], d["bdf"],
                                            "s" if len(d["nodes"]) > 1
                                            else "", format_list(d["nodes"])),
                             nc.initiator_arguments("ua-" + d["id"],
                                                    d["nodes"]))
        if self.unattachable is not None:
            why = ("the HMAT, all of it: with HMAT in its XML, libvirt would "
                   "give guest node %d an attached initiator, which the "
                   "host's node %d has not" % (
                       self.unattachable, m.h_of[self.unattachable]))
        else:
            why = ("HMAT rows libvirt cannot write: from a node without "
                   "vCPUs, the second direction of a pair of cells, to a "
                   "cell without vCPUs from another than its attached "
                   "initiator")
        nc.arguments(cl, why,
                     [x for hier, dtype, i, t, v in self.qemu_rows
                      for x in ("-numa", nc.hmat_lb(i, t, hier, dtype, v))])
        nc.arguments(cl, "memory-side caches of node%s %s, after the node's "
                     "HMAT rows" % ("s" if len(self.qemu_caches) > 1 else "",
                               format_list(c["node"]
                                           for c in self.qemu_caches)),
                     [x for c in self.qemu_caches
                      for x in ("-numa", nc.hmat_cache(c["node"], c))])
        return cl


# options of the QEMU command after "--" that the topology sets, and
# which QEMU would take from the last one given: a second -m or -smp would
# undo the topology's sizes, a -numa would add to its nodes
OWN_OPTIONS = {"-m": "-m", "-smp": "-smp", "-numa": "-numa"}


def check_command(cmd, machine):
    """The QEMU command after "--": refuse what would undo the topology.
    A -machine/-M of another machine type than MACHINE (the topology's,
    with its properties) too; one of the same type, or with properties
    only (accel=kvm), merges with it as QEMU merges -machine options."""
    if not cmd:
        raise TopologyError('--: no QEMU command after it (e.g. -- '
                            'qemu-system-x86_64 -accel kvm)')
    mtype = machine.split(",")[0]
    for k, a in enumerate(cmd[1:], 1):
        opt = "-" + a.lstrip("-") if a.startswith("-") else None
        if opt is None:
            continue
        name, eq, inline = opt.partition("=")
        if name in OWN_OPTIONS:
            raise TopologyError(
                "-- %s: the topology sets %s (%s); leave it out of the "
                "QEMU command" % (" ".join(cmd[k:k + 2]), name,
                                  "its nodes" if name == "-numa"
                                  else "the sum of its nodes"))
        if name in ("-machine", "-M"):
            val = inline if eq else (cmd[k + 1] if k + 1 < len(cmd) else "")
            parts = val.split(",")
            given = [p[5:] for p in parts if p.startswith("type=")]
            if parts[0] and "=" not in parts[0]:
                given.append(parts[0])
            if any(t != mtype for t in given):
                raise TopologyError(
                    "-- %s %s: the topology's machine is %s; give its "
                    "properties only (e.g. -machine accel=kvm)"
                    % (name, val, machine))


def run_command(cmd, m):
    """exec CMD with the topology's options after the program name"""
    check_command(cmd, m.machine())
    if shutil.which(cmd[0]) is None:
        raise TopologyError("-- %s: no such program (or not executable)"
                            % cmd[0])
    for c in m.comments():
        print("# " + c, file=sys.stderr)
    argv = cmd[:1] + [x for o in m.options() for x in o] + cmd[1:]
    print("host-topology: running %s" % " ".join(shlex.quote(a)
                                                for a in argv),
          file=sys.stderr, flush=True)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        raise TopologyError("-- %s: %s" % (argv[0], e.strerror))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    cmd = None
    if "--" in argv:
        cmd = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1])
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
                    "vfio-pci,host=BDF, placed the same way; with --format "
                    "libvirt always a virtio-rng device")
    ap.add_argument("--arch", choices=sorted(ARCHES),
                    help="guest architecture (default: the host's)")
    ap.add_argument("--unbound", action="store_true",
                    help="no host-nodes binding of memory and no "
                    "vcpu-affinity rules: to try a host's shape elsewhere")
    ap.add_argument("--format", choices=("qemu", "args", "json", "libvirt"),
                    default="qemu", help="QEMU options, one a line "
                    "(default), or all on one shell-quoted line (for eval; "
                    "comments go to stderr), the model as JSON, or libvirt "
                    "domain XML")
    ap.add_argument("--libvirt-ids", action="store_true",
                    help="number guest nodes as libvirt must: nodes with "
                    "memory first, then the others (implied by --format "
                    "libvirt)")
    ap.add_argument("--libvirt-version", metavar="X.Y", default="9.0",
                    help="--format libvirt: the libvirt to write for "
                    "(default 9.0; 11.8 and later: its own elements "
                    "for generic initiators)")
    nc.add_domain_options(ap, "host-topology")
    args = ap.parse_args(argv)
    if cmd is not None and args.format != "qemu":
        ap.error("--format %s: a QEMU command after -- takes the QEMU "
                 "options; leave --format out" % args.format)
    if args.format == "libvirt":
        args.libvirt_ids = True
    elif args.domain:
        ap.error("--domain goes with --format libvirt")
    try:
        version = tuple(int(x) for x in args.libvirt_version.split("."))
    except ValueError:
        ap.error("--libvirt-version %s: not a version (e.g. 9.0, 11.8)"
                 % args.libvirt_version)
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
        if cmd is not None:
            run_command(cmd, m)
        elif args.format == "json":
            json.dump(m.model(), sys.stdout, indent=2, sort_keys=True)
            print()
        elif args.format == "libvirt":
            lv = LibvirtDomain(m, native=version >= LIBVIRT_NATIVE)
            print(nc.to_text(lv.domain(args)))
        elif args.format == "args":
            for c in m.comments():
                print("# " + c, file=sys.stderr)
            print(" ".join(shlex.quote(x) for o in m.options() for x in o))
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
