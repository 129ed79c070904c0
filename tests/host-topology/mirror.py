# SPDX-License-Identifier: GPL-2.0-or-later
"""What the host topology tests share: the fixtures and how each is
mirrored, running scripts/host-topology.py, and the facts a guest must
share with the host it mirrors (tests/host-topology/mirror-test.py, the
libvirt test)."""

import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
for _d in (os.path.join(TOP, "scripts"), os.path.join(TOP, "tests", "guest"),
           HERE):
    if _d not in sys.path:
        sys.path.insert(0, _d)
import numatopo  # noqa: E402

FIXTURE_DIR = os.path.join(TOP, "tests", "data", "host-topology")
TOOL = os.path.join(TOP, "scripts", "host-topology.py")

# fixture: (guest architecture, host-topology.py arguments).  Every fixture
# captured from a guest is mirrored unbound (its host nodes are not this
# machine's); the build machine's own is mirrored bound, as a user would.
FIXTURES = {
    "grace": ("x86_64", ["--unbound", "--memory", "1536M",
                         "--device", "0000:01:00.0",
                         "--device", "0000:02:00.0"]),
    "cxl2s": ("x86_64", ["--unbound", "--memory", "1536M",
                         "--device", "0000:81:00.0"]),
    "armvirt": ("aarch64", ["--unbound", "--memory", "1024M",
                            "--device", "0000:01:00.0"]),
    "buildhost": ("x86_64", ["--memory", "512M"]),
    # the PCIe tree: two GPU+NIC pairs, each under a switch on its own
    # host bridge (one GPU with two functions), and a NIC on the root bus
    "pcie2hb": ("x86_64", ["--unbound", "--memory", "1024M",
                           "--device", "0000:23:00.0",
                           "--device", "0000:24:00.0",
                           "--device", "0000:43:00.0",
                           "--device", "0000:43:00.1",
                           "--device", "0000:44:00.0",
                           "--device", "0000:00:05.0"]),
}


def run_tool(sysfs, arch, extra, fmt, stand_in="pci-testdev"):
    """The tool's output and notes; STAND_IN None: vfio-pci devices"""
    cmd = [sys.executable, TOOL, "--sysfs", sysfs, "--arch", arch] + (
        ["--stand-in", stand_in] if stand_in else []) + [
        "--format", fmt] + extra
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode != 0:
        raise SystemExit("host-topology.py failed (%d): %s\n%s" % (
            p.returncode, " ".join(shlex.quote(c) for c in cmd), p.stderr))
    return p.stdout, p.stderr


def one_liner(sysfs, arch, extra, qemu_cmd):
    """The tool running QEMU_CMD (a list, the program first) with the
    topology put after the program's name"""
    return [sys.executable, TOOL, "--sysfs", sysfs, "--arch", arch,
            "--stand-in", "pci-testdev"] + extra + ["--"] + qemu_cmd


def show_command(cmd):
    """CMD as a user types it: the tool as scripts/host-topology.py, the
    paths below the repository relative to it, the guest's firmware and
    kernel by their file names"""
    out = []
    for k, a in enumerate(cmd):
        if k == 0 and a == sys.executable:
            continue
        if a.startswith(TOP + os.sep):
            a = os.path.relpath(a, TOP)
        elif os.path.isabs(a) and os.path.exists(a):
            a = os.path.basename(a)
        out.append(shlex.quote(a))
    return " ".join(out)


def qemu_lines(text):
    """the QEMU arguments of --format qemu: one option and its value a
    line, '#' lines are comments"""
    args = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        opt, _, val = line.partition(" ")
        args += [opt, val] if val else [opt]
    return args


def node_map(guest, model):
    """guest Linux node -> host node: a guest node's proximity domain (from
    the guest's SRAT, numbered the way Linux numbers nodes) is its QEMU
    node id, which the tool's JSON model maps to a host node"""
    host_of = {n["guest"]: n["host"] for n in model["nodes"]}
    view = numatopo.table_view(guest)
    pxm_of = {v: k for k, v in view["pxm"].items()} if view else \
        {n: n for n in guest["nodes"]}

    def to_host(n):
        return host_of.get(pxm_of.get(n, -1), "guest node%d" % n)
    return to_host


# the stand-in of every passed-through device in the guest: pci-testdev
STAND_IN_ID = ("0x1b36", "0x0005")
# and through --format libvirt: virtio-rng, transitional or modern
LIBVIRT_STAND_IN_IDS = (("0x1af4", "0x1005"), ("0x1af4", "0x1044"))


def host_facts(topo, bdfs):
    """numatopo.facts() plus, for the devices passed through, the nodes
    each is a generic initiator of and each one's numa_node"""
    f = numatopo.facts(topo)
    view = numatopo.table_view(topo)
    gi = []
    for bdf in bdfs:
        seg, bus, devfn = numatopo.parse_bdf(bdf)
        nodes = sorted(view["gi"].get((seg, bus, devfn), [])) if view \
            else []
        if nodes:
            gi.append(nodes)
    f["generic initiator nodes by device"] = sorted(gi)
    f["numa_node by device"] = sorted(topo["pci"][b]["numa_node"]
                                      for b in bdfs)
    f["pcie tree"] = numatopo.pci_shape(topo, list(bdfs),
                                        gi_nodes=gi_by_bdf(view))
    return f


def gi_by_bdf(view):
    """{bdf: [nodes]} of the generic initiators of a table_view()"""
    return {numatopo.format_bdf(*k): sorted(v)
            for k, v in (view["gi"].items() if view else [])}


def guest_facts(topo, to_host, stand_in=(STAND_IN_ID,)):
    """the guest's facts, on host node ids; STAND_IN: the (vendor, device)
    ids of the devices that stand in for the host's"""
    f = numatopo.facts(topo, rename=to_host)
    view = numatopo.table_view(topo)
    gi = [sorted(to_host(n) for n in nodes)
          for nodes in (view["gi"].values() if view else [])]
    f["generic initiator nodes by device"] = sorted(gi)
    f["numa_node by device"] = sorted(
        to_host(d["numa_node"]) if d["numa_node"] >= 0 else -1
        for d in topo["pci"].values()
        if (d["vendor"], d["device"]) in stand_in)
    f["pcie tree"] = numatopo.pci_shape(
        topo, [b for b, d in topo["pci"].items()
               if (d["vendor"], d["device"]) in stand_in],
        rename=to_host, gi_nodes=gi_by_bdf(view))
    return f


def show(value):
    """a fact's value, short"""
    if isinstance(value, list) and value and isinstance(value[0], tuple) \
            and len(value[0]) == 2:
        return " ".join(str(d) for _, d in value)   # a distance row
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return show_tree(value)
    if isinstance(value, list) and value and isinstance(value[0], list):
        return " ".join(numatopo.format_list(v) for v in value)
    if isinstance(value, list):
        return ",".join(map(str, value)) if any(v < 0 for v in value) \
            else numatopo.format_list(value) or "-"
    return "-" if value is None else str(value)


def show_tree(shape):
    """numatopo.pci_shape(), short: per host bridge, its node, then each
    switch's devices in [] and the devices alone; a device is its GI
    nodes (or -), its numa_node, and xN for N functions"""
    def dev(sig):
        gi, node, nf = sig
        return "%s/%s%s" % (numatopo.format_list(gi) or "-", node,
                            "x%d" % nf if nf > 1 else "")
    return " ; ".join(
        "node %s: %s" % (",".join(map(str, nodes)), " ".join(
            ["[%s]" % " ".join(dev(x) for x in sw) for sw in switches] +
            [dev(x) for x in alone]))
        for nodes, alone, switches in shape)


def shorten(lines, keep=2):
    """QEMU option lines with each run of one kind (the option and the
    first word of its value) cut to its first KEEP lines"""
    out, run = [], []

    def flush():
        out.extend(run[:keep])
        if len(run) > keep:
            out.append("... %d more %s alike" % (len(run) - keep,
                                                 kind_of(run[0])))

    def kind_of(line):
        return line if line.startswith("#") else line.split(",")[0]
    for line in lines:
        if run and kind_of(line) != kind_of(run[0]):
            flush()
            run = []
        run.append(line)
    flush()
    return out


def compare(want, got, name, demo=False):
    """(facts checked, facts that differ), printing a FAIL line for each
    that differs (demo: every fact side by side)"""
    failed = 0
    checked = 0
    if demo:
        print("\nEvery fact, the host's and the guest's (node ids: the "
              "host's):")
        print("  %-34s %-30s %-30s" % ("fact", "host", "guest"))
    for key in sorted(set(want) | set(got)):
        if key.startswith("mask has_normal_memory"):
            continue
        checked += 1
        a, b = want.get(key, "(none)"), got.get(key, "(none)")
        if demo:
            print("  %-34s %-30s %-30s%s" % (key, show(a), show(b),
                                             "" if a == b else "  DIFFERS"))
        if a != b:
            failed += 1
            print("  FAIL %s %s: host %s, guest %s" % (name, key, a, b))
    return checked, failed
