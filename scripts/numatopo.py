# SPDX-License-Identifier: GPL-2.0-or-later
"""The NUMA topology of a Linux machine, as its sysfs and ACPI show it.

Reads a sysfs root (a running machine's /sys, or a captured tree of the
same layout) into a plain model, and decodes the ACPI tables that describe
NUMA: SRAT (ACPI 6.5, 5.2.16), SLIT (5.2.17) and HMAT (5.2.28).  Used by
scripts/host-topology.py, and by the tests that compare what a guest sees
with what a host shows.

Node numbers: sysfs and Linux use Linux's node ids; the ACPI tables use
proximity domains (PXM).  Linux gives node ids in the order it meets
proximity domains while parsing SRAT: the processor (APIC, x2APIC, GICC)
and generic initiator structures first, in table order, then the memory
affinity structures; disabled structures are skipped.  linux_node_ids()
does the same, so that table data can be put on sysfs's nodes.
"""

import os
import re
import struct

# Linux's sysfs values for a memory-side cache (drivers/base/node.c)
CACHE_INDEXING = {0: "direct", 1: "complex", 2: "none"}
CACHE_WRITE_POLICY = {0: "write-back", 1: "write-through", 2: "none"}

# HMAT System Locality Latency and Bandwidth Information: data types
# (ACPI 6.5, Table 5.149) and QEMU's names for them
HMAT_DATA_TYPES = {0: "access-latency", 1: "read-latency",
                   2: "write-latency", 3: "access-bandwidth",
                   4: "read-bandwidth", 5: "write-bandwidth"}
HMAT_HIERARCHY = {0: "memory", 1: "first-level", 2: "second-level",
                  3: "third-level"}

ACCESS_ATTRS = ("read_latency", "write_latency", "read_bandwidth",
                "write_bandwidth")


class TopologyError(Exception):
    """Bad input: the message names what and why."""


def parse_list(text):
    """'0-2,5' -> [0, 1, 2, 5] (sysfs's and QEMU's list syntax)"""
    out = []
    for part in text.replace(" ", "").replace("\n", "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise ValueError("not a list of numbers: %r" % text)
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def format_list(ids):
    """[0, 1, 2, 5] -> '0-2,5'"""
    ids = sorted(set(ids))
    runs = []
    for i in ids:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in runs)


def parse_bdf(text):
    """'0000:01:00.0' or '01:00.0' -> (segment, bus, devfn)"""
    m = re.fullmatch(r"(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):"
                     r"([0-9a-fA-F]{1,2})\.([0-7])", text)
    if not m:
        raise TopologyError("%r is not a PCI address (SEGMENT:BUS:DEV.FN)"
                            % text)
    seg, bus, dev, fn = m.groups()
    if int(dev, 16) > 31:
        raise TopologyError("%r: device number above 0x1f" % text)
    return int(seg or "0", 16), int(bus, 16), int(dev, 16) << 3 | int(fn)


def format_bdf(seg, bus, devfn):
    return "%04x:%02x:%02x.%x" % (seg, bus, devfn >> 3, devfn & 7)


# ACPI tables ----------------------------------------------------------------

ACPI_HEADER = 36


def _check_table(data, sig):
    if len(data) < ACPI_HEADER or data[:4] != sig.encode():
        raise TopologyError("not an ACPI %s table" % sig)
    length = struct.unpack_from("<I", data, 4)[0]
    if length > len(data):
        raise TopologyError("%s: truncated (%d of %d bytes)"
                            % (sig, len(data), length))
    return data[:length], data[8]


def parse_srat(data):
    """SRAT (ACPI 6.5, 5.2.16) -> list of dicts, in table order.

    Every structure has "type", its bytes as "raw" and, where it has one,
    "pxm" and "enabled"; generic initiators and ports also "handle_type"
    and, for a PCI handle, "pci" (segment, bus, devfn); memory "base" and
    "length".
    """
    data, rev = _check_table(data, "SRAT")
    out = []
    off = ACPI_HEADER + 12          # Reserved (4) and Reserved (8)
    while off + 2 <= len(data):
        typ, length = data[off], data[off + 1]
        if length < 2 or off + length > len(data):
            raise TopologyError("SRAT: bad structure length %d at %d"
                                % (length, off))
        s = data[off:off + length]
        e = {"type": typ, "raw": bytes(s)}
        if typ == 0 and length >= 16:
            # Processor Local APIC/SAPIC Affinity (Table 5.59)
            pxm = s[2]
            if rev >= 2:
                pxm |= (s[9] | s[10] << 8 | s[11] << 16) << 8
            e.update(kind="cpu", pxm=pxm,
                     enabled=bool(struct.unpack_from("<I", s, 4)[0] & 1))
        elif typ == 1 and length >= 40:
            # Memory Affinity (Table 5.60)
            pxm, = struct.unpack_from("<I", s, 2)
            base, size = struct.unpack_from("<QQ", s, 8)
            flags, = struct.unpack_from("<I", s, 28)
            if rev <= 1:
                pxm &= 0xff
            e.update(kind="memory", pxm=pxm, base=base, length=size,
                     enabled=bool(flags & 1), hotpluggable=bool(flags & 2))
        elif typ == 2 and length >= 24:
            # Processor Local x2APIC Affinity (Table 5.62)
            pxm, = struct.unpack_from("<I", s, 4)
            e.update(kind="cpu", pxm=pxm,
                     enabled=bool(struct.unpack_from("<I", s, 12)[0] & 1))
        elif typ == 3 and length >= 18:
            # GICC Affinity (Table 5.63)
            pxm, = struct.unpack_from("<I", s, 2)
            e.update(kind="cpu", pxm=pxm,
                     enabled=bool(struct.unpack_from("<I", s, 10)[0] & 1))
        elif typ in (5, 6) and length >= 32:
            # Generic Initiator / Generic Port Affinity (Table 5.65)
            pxm, = struct.unpack_from("<I", s, 4)
            flags, = struct.unpack_from("<I", s, 24)
            e.update(kind="gi" if typ == 5 else "gp", pxm=pxm,
                     handle_type=s[3], enabled=bool(flags & 1))
            if s[3] == 1:           # PCI Device Handle (Table 5.67)
                seg, = struct.unpack_from("<H", s, 8)
                e["pci"] = (seg, s[10], s[11])
        out.append(e)
        off += length
    return out


def linux_node_ids(srat):
    """{pxm: Linux node id}, in the order Linux's acpi_numa_init() maps
    proximity domains: enabled processor and generic initiator structures
    in table order, then enabled memory affinity structures."""
    ids = {}
    order = [e for e in srat if e.get("kind") in ("cpu", "gi")] + \
            [e for e in srat if e.get("kind") == "memory"]
    for e in order:
        if e["enabled"] and e["pxm"] not in ids:
            ids[e["pxm"]] = len(ids)
    return ids


def parse_slit(data):
    """SLIT (ACPI 6.5, 5.2.17) -> square matrix by locality (pxm)"""
    data, _ = _check_table(data, "SLIT")
    n, = struct.unpack_from("<Q", data, ACPI_HEADER)
    off = ACPI_HEADER + 8
    if off + n * n > len(data):
        raise TopologyError("SLIT: %d localities do not fit" % n)
    return [list(data[off + i * n:off + (i + 1) * n]) for i in range(n)]


def parse_hmat(data):
    """HMAT (ACPI 6.5, 5.2.28) -> dict with
    "attached": {memory pxm: attached initiator pxm} (Memory Proximity
        Domain Attributes with the initiator field valid),
    "lb": [{"hierarchy", "data_type", "values": {(ipxm, tpxm): value}}]
        with latencies in ns and bandwidths in MB/s, as Linux computes
        them (an entry times the base unit; latencies from ps), entries 0
        (no information) and 0xffff (unreachable) left out,
    "caches": [{"pxm", "level", "size", "indexing", "write_policy",
        "line_size"}] in Linux's sysfs vocabulary.
    """
    data, rev = _check_table(data, "HMAT")
    out = {"attached": {}, "lb": [], "caches": []}
    off = ACPI_HEADER + 4           # Reserved (4)
    while off + 8 <= len(data):
        typ, _, length = struct.unpack_from("<HHI", data, off)
        if length < 8 or off + length > len(data):
            raise TopologyError("HMAT: bad structure length %d at %d"
                                % (length, off))
        s = data[off:off + length]
        if typ == 0 and length >= 40:
            # Memory Proximity Domain Attributes (Table 5.146)
            flags, = struct.unpack_from("<H", s, 8)
            init, mem = struct.unpack_from("<II", s, 12)
            if flags & 1:
                out["attached"][mem] = init
        elif typ == 1 and length >= 32:
            # System Locality Latency and Bandwidth Information
            # (Table 5.148)
            flags, dtype = s[8], s[9]
            ni, nt = struct.unpack_from("<II", s, 12)
            base, = struct.unpack_from("<Q", s, 24)
            p = 32
            if p + 4 * (ni + nt) + 2 * ni * nt > length:
                raise TopologyError("HMAT: latency/bandwidth structure "
                                    "too short")
            inits = struct.unpack_from("<%dI" % ni, s, p)
            targets = struct.unpack_from("<%dI" % nt, s, p + 4 * ni)
            entries = struct.unpack_from("<%dH" % (ni * nt), s,
                                         p + 4 * (ni + nt))
            values = {}
            for r, i in enumerate(inits):
                for c, t in enumerate(targets):
                    v = entries[r * nt + c]
                    if v in (0, 0xffff):
                        continue
                    v *= base
                    if dtype <= 2 and rev >= 2:
                        v = (v + 999) // 1000       # ps -> ns
                    values[(i, t)] = v
            out["lb"].append({"hierarchy": flags & 0xf, "data_type": dtype,
                              "values": values})
        elif typ == 2 and length >= 32:
            # Memory Side Cache Information (Table 5.151)
            mem, = struct.unpack_from("<I", s, 8)
            size, attrs = struct.unpack_from("<QI", s, 16)
            out["caches"].append({
                "pxm": mem, "level": attrs >> 4 & 0xf, "size": size,
                "indexing": {1: 0, 2: 1}.get(attrs >> 8 & 0xf, 2),
                "write_policy": {1: 0, 2: 1}.get(attrs >> 12 & 0xf, 2),
                "line_size": attrs >> 16})
        off += length
    return out


# sysfs ----------------------------------------------------------------------

NODE_DIR = "devices/system/node"
NODE_MASKS = ("possible", "online", "has_cpu", "has_memory",
              "has_normal_memory", "has_generic_initiator")
PCI_DIR = "bus/pci/devices"
TABLE_DIR = "firmware/acpi/tables"


def _read(path):
    with open(path) as f:
        return f.read().strip()


def _node_names(path):
    try:
        names = os.listdir(path)
    except OSError:
        return []
    return sorted(int(n[4:]) for n in names if re.fullmatch(r"node\d+", n))


def read_sysfs(root):
    """Read a sysfs root into a dict:
    "masks": {possible, online, has_cpu, has_memory, has_normal_memory,
              has_generic_initiator: [node ids]},
    "nodes": {id: {"cpus": [...], "mem_kb": int, "distance": [...],
                   "access": {0|1: {"initiators": [...], "targets": [...],
                                    read_latency...: int}},
                   "caches": [{"level", "size", "line_size", "indexing",
                               "write_policy"}]}},
    "pci": {bdf: {"numa_node": int, "vendor": "0x1b36", "device": ...,
                  "class": ..., "path": [bdf of each bridge above it, then
                  its own], "sysfs_path": the link's target below root,
                  "host_bridge": "pciDDDD:BB", the root bus it is below}},
    "tables": {"SRAT"|"SLIT"|"HMAT": bytes} for those readable,
    "notes": [what could not be read, and why].
    """
    nd = os.path.join(root, NODE_DIR)
    if not os.path.isdir(nd):
        raise TopologyError("%s: no %s (not a sysfs root?)" % (root,
                                                                 NODE_DIR))
    topo = {"masks": {}, "nodes": {}, "pci": {}, "tables": {}, "notes": []}
    for m in NODE_MASKS:
        p = os.path.join(nd, m)
        topo["masks"][m] = parse_list(_read(p)) if os.path.exists(p) else []
    for n in _node_names(nd):
        d = os.path.join(nd, "node%d" % n)
        node = {"cpus": [], "mem_kb": 0, "distance": [], "access": {},
                "caches": []}
        if os.path.exists(os.path.join(d, "cpulist")):
            node["cpus"] = parse_list(_read(os.path.join(d, "cpulist")))
        if os.path.exists(os.path.join(d, "meminfo")):
            m = re.search(r"MemTotal:\s+(\d+) kB",
                          _read(os.path.join(d, "meminfo")))
            node["mem_kb"] = int(m.group(1)) if m else 0
        if os.path.exists(os.path.join(d, "distance")):
            node["distance"] = [int(x) for x in
                                _read(os.path.join(d, "distance")).split()]
        for k in (0, 1):
            if not os.path.isdir(os.path.join(d, "access%d" % k)):
                continue
            a = os.path.join(d, "access%d" % k, "initiators")
            acc = {"initiators": _node_names(a),
                   "targets": _node_names(os.path.join(d, "access%d" % k,
                                                       "targets"))}
            for attr in ACCESS_ATTRS:
                if os.path.exists(os.path.join(a, attr)):
                    acc[attr] = int(_read(os.path.join(a, attr)))
            node["access"][k] = acc
        cd = os.path.join(d, "memory_side_cache")
        if os.path.isdir(cd):
            for idx in sorted(os.listdir(cd)):
                m = re.fullmatch(r"index(\d+)", idx)
                if not m:
                    continue
                c = {"level": int(m.group(1))}
                for attr in ("size", "line_size", "indexing",
                             "write_policy"):
                    c[attr] = int(_read(os.path.join(cd, idx, attr)))
                node["caches"].append(c)
        topo["nodes"][n] = node
    # a tree without the mask: Linux makes a nodeN directory per online node
    topo["masks"]["online"] = topo["masks"]["online"] or sorted(topo["nodes"])
    pd = os.path.join(root, PCI_DIR)
    for bdf in sorted(os.listdir(pd)) if os.path.isdir(pd) else []:
        p = os.path.join(pd, bdf)
        nn = os.path.join(p, "numa_node")
        dev = {"numa_node": int(_read(nn)) if os.path.exists(nn) else -1}
        for attr in ("vendor", "device", "class"):
            f = os.path.join(p, attr)
            dev[attr] = _read(f) if os.path.exists(f) else ""
        # the real path names every bridge between the root and the device
        target = os.readlink(p) if os.path.islink(p) else ""
        dev["sysfs_path"] = os.path.relpath(os.path.normpath(
            os.path.join(pd, target)), root) if target else ""
        dev["path"] = [c for c in target.split("/")
                       if re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{2}:"
                                       r"[0-9a-f]{2}\.[0-7]", c)] or [bdf]
        # the host bridge: devices/pciDDDD:BB/... (its root bus)
        hb = [c for c in target.split("/")
              if re.fullmatch(r"pci[0-9a-f]{4}:[0-9a-f]{2}", c)]
        dev["host_bridge"] = hb[0] if hb else "pci%s" % bdf[:7]
        topo["pci"][bdf] = dev
    for t in ("SRAT", "SLIT", "HMAT"):
        p = os.path.join(root, TABLE_DIR, t)
        try:
            with open(p, "rb") as f:
                topo["tables"][t] = f.read()
        except FileNotFoundError:
            topo["notes"].append("no ACPI %s table (%s)" % (t, p))
        except OSError as e:
            topo["notes"].append("ACPI %s table not readable (%s: %s)"
                                 % (t, p, e.strerror))
    return topo


def table_view(topo):
    """What the ACPI tables add to sysfs, on Linux's node ids: a dict with
    "pxm": {pxm: node}, "gi": {(seg, bus, devfn): [nodes]},
    "hmat": parse_hmat() with proximity domains turned into node ids, or
    None when the host has no readable SRAT/HMAT.  Structures naming a
    proximity domain that Linux did not make a node are dropped."""
    if "SRAT" not in topo["tables"]:
        return None
    srat = parse_srat(topo["tables"]["SRAT"])
    pxm = linux_node_ids(srat)
    view = {"pxm": pxm, "gi": {}, "hmat": None}
    for e in srat:
        if e.get("kind") == "gi" and e["enabled"] and "pci" in e:
            view["gi"].setdefault(e["pci"], []).append(pxm[e["pxm"]])
    if "HMAT" in topo["tables"]:
        h = parse_hmat(topo["tables"]["HMAT"])
        view["hmat"] = {
            "attached": {pxm[m]: pxm[i] for m, i in h["attached"].items()
                         if m in pxm and i in pxm},
            "lb": [dict(lb, values={(pxm[i], pxm[t]): v
                                    for (i, t), v in lb["values"].items()
                                    if i in pxm and t in pxm})
                   for lb in h["lb"]],
            "caches": [dict(c, node=pxm[c["pxm"]]) for c in h["caches"]
                       if c["pxm"] in pxm],
        }
    return view


def pci_place(dev):
    """Where a PCI device sits below its host bridge: ("bus",) on the
    host bridge's own bus, ("port", ROOT_PORT) alone behind a root port,
    ("switch", ROOT_PORT, UPSTREAM, DOWNSTREAM) behind a switch's
    downstream port (the innermost switch where switches nest); a chain
    of two or four bridges (PCIe-to-PCI bridges) counts as the root port
    only.  DEV: an entry of read_sysfs()'s "pci"."""
    up = dev["path"][:-1]
    if not up:
        return ("bus",)
    if len(up) >= 3 and len(up) % 2 == 1:
        return ("switch", up[0], up[-2], up[-1])
    return ("port", up[0])


def pci_devices(topo, bdfs):
    """The functions BDFS grouped into devices, in the order of BDFS:
    [(function 0's bdf, [bdfs of its functions])]"""
    groups = {}
    for bdf in bdfs:
        # a function without its function 0 among BDFS is a device alone
        key = bdf[:-2] if bdf[:-1] + "0" in bdfs else bdf
        groups.setdefault(key, []).append(bdf)
    return [(sorted(fs)[0], sorted(fs)) for fs in groups.values()]


def pci_shape(topo, bdfs, rename=None, gi_nodes=None):
    """The PCIe tree of the functions BDFS as a value that compares
    equal between two trees of the same shape, whatever their bus
    numbers: per host bridge (its NUMA node), the switches (each the
    devices below it) and the devices alone (behind their own root port
    or on the bridge's bus: a guest cannot always tell those apart); a
    device is (its generic initiator nodes, its numa_node, its number of
    functions).  Node ids go through RENAME; GI_NODES: {bdf: [nodes]}"""
    rename = rename or (lambda n: n)
    gi_nodes = gi_nodes or {}
    bridges = {}
    for bdf, funcs in pci_devices(topo, bdfs):
        dev = topo["pci"][bdf]
        node = rename(dev["numa_node"]) if dev["numa_node"] >= 0 else -1
        sig = (sorted(rename(n) for n in gi_nodes.get(bdf, [])), node,
               len(funcs))
        b = bridges.setdefault(dev["host_bridge"],
                               {"nodes": set(), "alone": [],
                                "switches": {}})
        b["nodes"].add(node)
        place = pci_place(dev)
        if place[0] == "switch":
            b["switches"].setdefault(place[1:3], []).append(sig)
        else:
            b["alone"].append(sig)
    return sorted((sorted(b["nodes"]), sorted(b["alone"]),
                   sorted(sorted(sw) for sw in b["switches"].values()))
                  for b in bridges.values())


def facts(topo, rename=None):
    """The facts a guest must share with the host it mirrors: {what:
    value}, comparable with ==, with node ids put through rename (e.g.
    a guest's node -> the host node it mirrors)."""
    rename = rename or (lambda n: n)
    online = topo["masks"]["online"]
    f = {}
    for m, ids in topo["masks"].items():
        f["mask " + m] = sorted(map(rename, ids))
    for n, node in topo["nodes"].items():
        k = "node %s " % rename(n)
        f[k + "cpus"] = len(node["cpus"])
        f[k + "memory"] = bool(node["mem_kb"])
        f[k + "distance"] = sorted(zip(map(rename, online),
                                       node["distance"]))
        for a, acc in node["access"].items():
            f[k + "access%d initiators" % a] = sorted(
                map(rename, acc["initiators"]))
            f[k + "access%d targets" % a] = sorted(
                map(rename, acc["targets"]))
            for attr in ACCESS_ATTRS:
                f[k + "access%d %s" % (a, attr)] = acc.get(attr)
        for c in node["caches"]:
            for attr in ("size", "line_size", "indexing", "write_policy"):
                f[k + "cache%d %s" % (c["level"], attr)] = c[attr]
    return f
