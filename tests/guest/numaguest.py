# SPDX-License-Identifier: GPL-2.0-or-later
"""What the guest tests share (tests/guest/numa-guest.py, mk/bench.py,
mk/srat-gi-compare.py, the libvirt and host topology tests): booting the
guest on a topology, reading what its /init printed, checking it against
the topology, and showing it."""

import os
import re
import shlex
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
for _d in (HERE, os.path.join(TOP, "scripts")):
    if _d not in sys.path:
        sys.path.insert(0, _d)
import guestboot  # noqa: E402
from guestboot import HOST_ARCH, load_assets  # noqa: E402
from numaconfig import Topology  # noqa: E402
import numatopo  # noqa: E402
from numatopo import parse_list  # noqa: E402

# also what it takes from guestboot.py and numaconfig.py, for the tests
__all__ = ["HOST_ARCH", "load_assets", "Topology", "parse_list", "boot",
           "parse_guest", "Checker", "match_roles", "verify", "show_tables",
           "show_guest"]


def boot(args, topo, assets, workdir, stalls=None):
    """Boot the guest on TOPO (args: arch, build, extra_args, timeout and,
    if set, migrate); (command line, console output, QEMU's exit status,
    seconds).  STALLS: as for guestboot.run()."""
    # The kernel logs every HMAT entry (2 x initiators x targets lines,
    # the targets being the memory nodes): beyond a few hundred, grow its
    # log buffer so that none is lost
    append = ""
    inits = sum(1 for n in topo.nodes.values() if n["cpus"] or n["gi"])
    targets = sum(1 for n in topo.nodes.values() if n["mem"])
    log_bytes = 2 * inits * targets * 80 if topo.lb else 0
    if log_bytes > 100000:
        append = "log_buf_len=%d" % (1 << (2 * log_bytes).bit_length())
    return guestboot.boot(args.build, args.arch, assets, workdir,
                          topo.qemu_args(args.arch),
                          shlex.split(args.extra_args or ""), append,
                          args.timeout, getattr(args, "migrate", False),
                          stalls)


def parse_guest(out):
    g = {"nodes": {}, "tables": {}, "dmesg": []}
    for line in out.splitlines():
        m = re.search(r"@@ (.*)$", line)
        if not m:
            continue
        words = m.group(1).rstrip("\r").split(" ")
        key, rest = words[0], words[1:]
        if key == "cap":
            continue    # capture mode's files: tests/host-topology
        if key == "table":
            g["tables"].setdefault(rest[0], bytearray()).extend(
                bytes(int(b, 16) for b in rest[1:] if b))
        elif key == "dmesg":
            g["dmesg"].append(" ".join(rest))
        elif key.startswith("node") and key[4:].isdigit():
            node = g["nodes"].setdefault(int(key[4:]), {})
            if rest[0].startswith("access"):
                node.setdefault(rest[0], {})[rest[1]] = \
                    " ".join(rest[2:]).strip()
            else:
                node[rest[0]] = " ".join(rest[1:]).strip()
        else:
            g[key] = " ".join(rest).strip()
    return g


def guest_nodes(text):
    return sorted(int(w[4:]) for w in text.split() if w.startswith("node"))


class Checker:
    def __init__(self, quiet):
        self.passed = self.failed = 0
        self.lines = []
        self.quiet = quiet

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        line = "%s %s%s" % ("ok  " if ok else "FAIL", what,
                            (": " + detail) if detail else "")
        self.lines.append(line)
        if not self.quiet or not ok:
            print("    " + line)


def match_roles(topo, g):
    """QEMU node id -> guest node id, by role: the same number of CPUs,
    memory or not, generic initiator or not; among nodes alike, by the
    rank of their memory size (MemTotal is what the kernel left, which can
    be much less than the node's size), then by id."""
    gi_nodes = set(parse_list(g.get("has_generic_initiator", "")))

    def kb(n):
        return int(g["nodes"][n].get("memtotal_kb") or 0)

    groups = {}
    for q, want in topo.nodes.items():
        if not topo.linux_node(q):
            continue
        key = (len(want["cpus"]), bool(want["gi"]), bool(want["mem"]))
        groups.setdefault(key, ([], []))[0].append((want["mem"], q))
    for n, gn in g["nodes"].items():
        key = (len(parse_list(gn.get("cpulist", ""))), n in gi_nodes,
               bool(kb(n)))
        groups.setdefault(key, ([], []))[1].append((kb(n), n))
    mapping = {}
    for qs, gs in groups.values():
        for (_, q), (_, n) in zip(sorted(qs), sorted(gs)):
            mapping[q] = n
    return mapping


def verify_ports(topo, g, ck):
    """The SRAT's Generic Port Affinity Structures name each CXL host
    bridge (_UID: its bus number) in its node, and the kernel logged no
    complaint about SRAT or HMAT"""
    srat = numatopo.parse_srat(bytes(g["tables"].get("SRAT", b"")))
    got = sorted((s["pxm"], struct.unpack_from("<I", s["raw"], 16)[0])
                 for s in srat if s["type"] == 6)
    want = sorted((p["node"], p["bus-nr"]) for p in topo.ports)
    ck.check(got == want, "SRAT generic ports (node, _UID) %s" % want,
             "guest's SRAT: %s" % got)
    bad = [line for line in g["dmesg"]
           if re.search(r"ignor|invalid|bad|fail", line, re.I)]
    ck.check(not bad, "the kernel logged no SRAT, NUMA or HMAT complaint",
             "\n      ".join(bad))


def verify(topo, g, ck):
    q2g = match_roles(topo, g)
    nodes = [q for q in sorted(topo.nodes) if topo.linux_node(q)]
    for q in nodes:
        ck.check(q in q2g, "QEMU node %d (%s) is a guest node" %
                 (q, topo.role(q)),
                 "guest node%d" % q2g[q] if q in q2g else "no guest node "
                 "has this role")
    every = sorted(q2g.values())
    for f in ("possible", "online"):
        ck.check(sorted(parse_list(g.get(f, ""))) == every and
                 len(every) == len(nodes),
                 "%s nodes" % f, "guest %s, expected %d nodes"
                 % (g.get(f, "?"), len(nodes)))
    if topo.ports:
        verify_ports(topo, g, ck)
    for f, pred in (("has_cpu", lambda n: n["cpus"]),
                    ("has_memory", lambda n: n["mem"]),
                    ("has_generic_initiator", lambda n: n["gi"])):
        want = sorted(q2g[q] for q, n in topo.nodes.items()
                      if pred(n) and q in q2g)
        got = parse_list(g.get(f, ""))
        ck.check(sorted(got) == want, f,
                 "guest %s, expected %s" % (g.get(f, "(none)"),
                                            fmt_nodes(want)))
    # every configured value, as the kernel logs it while parsing HMAT
    # (by proximity domain, which is QEMU's node id)
    logged = {}
    for line in g["dmesg"]:
        m = re.search(r"Initiator-Target\[(\d+)-(\d+)\]:(\d+) (nsec|MB/s)",
                      line)
        if m:
            logged[(int(m.group(1)), int(m.group(2)), m.group(4))] = \
                int(m.group(3))
    for (i, t), (lat, bw) in sorted(topo.lb.items()):
        for unit, v in (("nsec", lat), ("MB/s", bw)):
            got = logged.get((i, t, unit))
            ck.check(got == v, "HMAT initiator %d target %d: %d %s" %
                     (i, t, v, unit), "guest kernel logged %s" % got)
    for t in sorted(topo.nodes):
        if not topo.nodes[t]["mem"] or t not in q2g:
            continue
        gn = g["nodes"].get(q2g[t], {})
        for acc, (inits, vals) in sorted(topo.expected_access(t).items()):
            a = gn.get(acc)
            what = "node%d (QEMU %d) %s" % (q2g[t], t, acc)
            if a is None:
                ck.check(False, what, "missing in the guest")
                continue
            want = sorted(q2g.get(i, -1) for i in inits)
            ck.check(guest_nodes(a.get("initiators", "")) == want,
                     what + " initiators", "guest %s, expected %s"
                     % (a.get("initiators") or "(none)", fmt_nodes(want)))
            if not vals:
                continue
            for key, v in (("read_latency", vals[0]),
                           ("write_latency", vals[0]),
                           ("read_bandwidth", vals[1]),
                           ("write_bandwidth", vals[1])):
                ck.check(a.get(key) == str(v), "%s %s" % (what, key),
                         "guest %s, configured %d" % (a.get(key), v))
    return q2g


def fmt_nodes(ids):
    return " ".join("node%d" % i for i in ids) or "(none)"


def iasl_decode(g, workdir, table):
    data = g["tables"].get(table)
    if not data or not shutil.which("iasl"):
        return None
    path = os.path.join(workdir, table)
    with open(path + ".dat", "wb") as f:
        f.write(data)
    subprocess.run(["iasl", "-d", path + ".dat"], cwd=workdir,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with open(path + ".dsl") as f:
            return f.read()
    except OSError:
        return None


def iasl_fields(dsl):
    """[(field, value)] of an iasl disassembly, in table order"""
    out = []
    for line in dsl.splitlines():
        m = re.match(r"\[[0-9A-F]+h [0-9]+ +[0-9]+\] +(.*?) : (.*)$", line)
        if m:
            out.append((m.group(1).strip(), m.group(2).strip()))
    return out


def show_srat(dsl):
    lines = dsl.splitlines()
    first = [i for i, line in enumerate(lines)
             if "Subtable Type : 05" in line]
    print("\nSRAT, as the guest got it: %d Generic Initiator Affinity "
          "Structures.\nThe first as iasl decodes it:" % len(first))
    if not first:
        return
    for line in lines[first[0]:]:
        if not line.strip():
            continue
        if "Reserved2" in line:
            print("    " + line)
            break
        print("    " + line)
    print("  All of them (Device Handle for PCI: segment, bus, devfn):")
    print("    %-17s %-13s %-12s %s" % ("Proximity Domain", "Device Handle",
                                        "PCI address", "Flags"))
    gi = None
    for field, value in iasl_fields(dsl):
        if field == "Subtable Type":
            gi = {} if value.startswith("05") else None
        elif gi is not None:
            gi[field] = value
            if field == "Flags (decoded below)":
                h = [int(b, 16) for b in gi["Device Handle"].split()]
                addr = "%02x%02x:%02x:%02x.%x" % (h[1], h[0], h[2],
                                                   h[3] >> 3, h[3] & 7)
                print("    %-17s %-13s %-12s %s%s" % (
                    gi["Proximity Domain"],
                    " ".join(gi["Device Handle"].split()[:4]), addr, value,
                    " (Enabled)" if int(value, 16) & 1 else ""))


HMAT_TYPES = {0: ("access latency", "ns"), 1: ("read latency", "ns"),
              2: ("write latency", "ns"), 3: ("access bandwidth", "MB/s"),
              4: ("read bandwidth", "MB/s"), 5: ("write bandwidth", "MB/s")}


def show_hmat(dsl):
    print("\nHMAT System Locality Latency and Bandwidth Information, as the"
          " guest got it\n(iasl's Entry values x Entry Base Unit, the latency"
          " base unit in ps;\ntargets without memory left out):")
    lb = None
    structs = []
    for field, value in iasl_fields(dsl):
        if field == "Structure Type":
            lb = {"inits": [], "targets": [], "entries": []} \
                if value.startswith("0001") else None
            if lb is not None:
                structs.append(lb)
        elif lb is None:
            continue
        elif field == "Data Type":
            lb["type"] = int(value, 16)
        elif field == "Entry Base Unit":
            lb["base"] = int(value, 16)
        elif field == "Initiator Proximity Domain List":
            lb["inits"].append(int(value, 16))
        elif field == "Target Proximity Domain List":
            lb["targets"].append(int(value, 16))
        elif field == "Entry":
            lb["entries"].append(int(value, 16))
    for lb in structs:
        name, unit = HMAT_TYPES.get(lb["type"], ("type %d" % lb["type"], ""))
        nt = len(lb["targets"])
        cols = [k for k in range(nt)
                if any(lb["entries"][r * nt + k]
                       for r in range(len(lb["inits"])))]
        scale = lb["base"] / 1000.0 if unit == "ns" else lb["base"]
        print("  %s (%s), Data Type %d, Entry Base Unit %d:"
              % (name, unit, lb["type"], lb["base"]))
        print("    %-18s" % "initiator \\ target" +
              "".join("%8d" % lb["targets"][k] for k in cols))
        for r, i in enumerate(lb["inits"]):
            print("    %-18d" % i + "".join(
                "%8g" % (lb["entries"][r * nt + k] * scale) for k in cols))


def show_tables(g, workdir):
    srat = iasl_decode(g, workdir, "SRAT")
    if srat:
        show_srat(srat)
    hmat = iasl_decode(g, workdir, "HMAT")
    if hmat:
        show_hmat(hmat)


def show_guest(topo, g, q2g):
    print("\nWhat the guest sees (Linux %s):" % g.get("kernel", "?"))
    print("  /sys/devices/system/node: possible %s, online %s, has_cpu %s,"
          " has_memory %s, has_generic_initiator %s"
          % tuple(g.get(k, "-") for k in ("possible", "online", "has_cpu",
                                           "has_memory",
                                           "has_generic_initiator")))
    print("  %-10s %-28s %-10s %-8s %s" % ("QEMU node", "configured",
                                         "guest", "cpulist", "MemTotal"))
    for q in sorted(topo.nodes):
        n = q2g.get(q)
        gn = g["nodes"].get(n, {})
        kb = int(gn.get("memtotal_kb") or 0)
        print("  %-10d %-28s %-10s %-8s %s" % (
            q, topo.role(q), "node%d" % n if n is not None else "MISSING",
            gn.get("cpulist") or "-",
            "%d MiB" % (kb // 1024) if kb else "-"))
    targets = [t for t in sorted(topo.nodes) if topo.nodes[t]["mem"]]
    if not topo.lb:
        return
    print("\n  Memory access performance, from each memory node's"
          " accessN/initiators\n  (access0: best initiator, devices included;"
          " access1: best CPU initiator):")
    print("  %-8s %-8s %-18s %-12s %-16s %s" % (
        "target", "access", "initiators", "latency ns", "bandwidth MB/s",
        "configured (QEMU nodes: latency, bandwidth)"))
    for t in targets:
        n = q2g.get(t)
        gn = g["nodes"].get(n, {})
        for acc, (inits, vals) in sorted(topo.expected_access(t).items()):
            a = gn.get(acc, {})
            print("  %-8s %-8s %-18s %-12s %-16s %s -> %s: %s" % (
                "node%s" % n, acc, a.get("initiators") or "(none)",
                "%s/%s" % (a.get("read_latency", "-"),
                           a.get("write_latency", "-")),
                "%s/%s" % (a.get("read_bandwidth", "-"),
                           a.get("write_bandwidth", "-")),
                ",".join(str(i) for i in inits), t,
                "%d ns, %d MB/s" % vals if vals else "-"))
