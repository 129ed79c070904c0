#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""scripts/host-topology.py without a guest: bad input, and what it prints.

Every case runs the tool as a user would, on the fixtures of
tests/data/host-topology, and checks its exit status, its output and its
message.  Bad input must give exit status 1 and one line on stderr that
names the option and the value (notes, "host-topology: note: ...", may
precede it).  Prints "ok"/"FAIL" a case and a closing count.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
TOOL = os.path.join(TOP, "scripts", "host-topology.py")
FIX = os.path.join(TOP, "tests", "data", "host-topology")
GRACE = os.path.join(FIX, "grace", "sys")
CXL = os.path.join(FIX, "cxl2s", "sys")
QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"

results = []


def tool(*args):
    p = subprocess.run([sys.executable, TOOL] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def check(ok, what, detail=""):
    ok = bool(ok)
    results.append(ok)
    print("%s %s%s" % ("ok  " if ok else "FAIL", what,
                       "" if ok else ": " + detail))


def error_case(what, pattern, *args):
    """exit 1, nothing on stdout, one error line matching pattern"""
    rc, out, err = tool(*args)
    lines = [x for x in err.splitlines()
             if not x.startswith("host-topology: note:")]
    check(rc == 1 and not out and len(lines) == 1 and
          re.search(pattern, lines[0]),
          "error: " + what, "exit %d, stderr %r" % (rc, err))


def options(out):
    return [line for line in out.splitlines()
            if line and not line.startswith("#")]


def libvirt_xml(out):
    """(the domain element, the <qemu:commandline> arguments)"""
    root = ET.fromstring(out)
    return root, [a.get("value") for a in root.iterfind(
        "{%s}commandline/{%s}arg" % (QEMU_NS, QEMU_NS))]


def sysfs_copy(tmp, src, files):
    """A copy of fixture SRC below TMP with FILES ({path: text}) written"""
    sysfs = os.path.join(tmp, "sys")
    shutil.copytree(src, sysfs, symlinks=True)
    for rel, text in files.items():
        path = os.path.join(sysfs, "devices", "system", "node", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return sysfs


# a stand-in for QEMU: writes its argv, as JSON, to the file $ARGV_OUT
FAKE_QEMU = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["ARGV_OUT"], "w") as f:
    json.dump(sys.argv[1:], f)
"""


def one_liner_cases():
    """--format args (for eval) and a QEMU command after --: the argv
    QEMU gets is the --format qemu options, then the user's own"""
    g = ["--sysfs", GRACE, "--arch", "x86_64", "--unbound", "--memory",
         "1G", "--device", "0000:01:00.0", "--stand-in", "pci-testdev"]
    rc, out, err = tool(*g)
    want = [x for line in options(out) for x in line.split(" ", 1)]
    # the user's own options, one a JSON -object with spaces and quotes
    user = ["-accel", "kvm", "-object",
            '{"qom-type": "secret", "id": "s0", "data": "it\'s a b"}']
    with tempfile.TemporaryDirectory() as tmp:
        fake = os.path.join(tmp, "qemu-system-x86_64")
        with open(fake, "w") as f:
            f.write(FAKE_QEMU)
        os.chmod(fake, 0o755)
        argv_out = os.path.join(tmp, "argv.json")
        env = dict(os.environ, ARGV_OUT=argv_out)

        def got():
            try:
                with open(argv_out) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None
            finally:
                if os.path.exists(argv_out):
                    os.unlink(argv_out)

        rc, out, err = tool(*g, "--format", "args")
        check(rc == 0 and out.count("\n") == 1 and "#" not in out and
              "# guest node 1 = host node 1" in err,
              "--format args: one line on stdout, the comments on stderr",
              "exit %d: %r" % (rc, out[:200]))
        # the documented eval one-liner, run by sh
        line = ('eval %s -accel kvm -object \'"$SECRET"\' '
                '"$(%s %s %s --format args)"' % (
                    fake, sys.executable, TOOL,
                    " ".join(shlex.quote(a) for a in g)))
        p = subprocess.run(["sh", "-c", line], env=dict(env,
                           SECRET=user[3]), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        argv = got()
        check(p.returncode == 0 and argv == user + want,
              "eval QEMU ... \"$(host-topology.py --format args)\": QEMU "
              "gets the user's options and the topology's, each whole",
              "exit %d, %r" % (p.returncode, argv))
        p = subprocess.run([sys.executable, TOOL] + g + ["--", fake] + user,
                           env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        argv = got()
        check(p.returncode == 0 and argv == want + user and not p.stdout and
              "host-topology: running %s -machine q35,hmat=on" % fake
              in p.stderr,
              "host-topology.py ... -- QEMU ARGS: QEMU runs with the "
              "topology after its name, the user's options whole after it",
              "exit %d, %r, %r" % (p.returncode, argv, p.stderr[-300:]))
        p = subprocess.run([sys.executable, TOOL] + g + [
            "--", fake, "-machine", "accel=kvm", "-M", "q35"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True)
        argv = got()
        check(p.returncode == 0 and argv == want + ["-machine", "accel=kvm",
                                                    "-M", "q35"],
              "-- QEMU -machine accel=kvm -M q35: properties and the same "
              "machine type are passed on", "exit %d, %r" % (p.returncode,
                                                            argv))
    error_case("-- without a command", r"--: no QEMU command after it", *g,
               "--")
    error_case("-m after --", r"-- -m 4G: the topology sets -m", *g, "--",
               "qemu-system-x86_64", "-m", "4G")
    error_case("-smp= after --", r"-- -smp=8: the topology sets -smp", *g,
               "--", "qemu-system-x86_64", "-smp=8")
    error_case("-numa after --", r"-- -numa node: the topology sets -numa",
               *g, "--", "qemu-system-x86_64", "-numa", "node")
    error_case("another machine type after --",
               r"-- -machine type=pc: the topology's machine is q35,hmat=on",
               *g, "--", "qemu-system-x86_64", "-machine", "type=pc")
    error_case("a QEMU that is not there",
               r"-- /nonexistent/qemu: no such program", *g, "--",
               "/nonexistent/qemu")
    rc, out, err = tool(*g, "--format", "json", "--", "qemu-system-x86_64")
    check(rc == 2 and "--format json: a QEMU command after -- takes" in err,
          "error: --format json with a command after --", err)


def qtree_parents(text):
    """{device id: the name of the bus it sits on} from 'info qtree'"""
    parents, stack = {}, []         # stack: (indent, bus name)
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        m = re.match(r"\s*bus: (\S+)", line)
        if m:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group(1)))
            continue
        m = re.match(r'\s*dev: [^,]+, id "([^"]+)"', line)
        if m and stack:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            parents[m.group(1)] = stack[-1][1] if stack else None
    return parents


def bus_cases(qemu):
    """Every -device names its bus.  QEMU puts a PCI device without bus=
    on the last PCI bus created: after a pxb-pcie, behind the expander.
    The order that showed it: a device with generic initiators, one with
    a numa_node and none, another with them, another with a numa_node and
    none (grace's two devices, and two of its root-bus devices given node
    0 and node 9 in a copy).  With QEMU, the devices must also sit there
    in 'info qtree'."""
    with tempfile.TemporaryDirectory() as tmp:
        sysfs = os.path.join(tmp, "sys")
        shutil.copytree(GRACE, sysfs, symlinks=True)
        for bdf, node in (("0000:00:01.0", 0), ("0000:00:1f.2", 9)):
            with open(os.path.join(sysfs, "devices", "pci0000:00", bdf,
                                   "numa_node"), "w") as f:
                f.write("%d\n" % node)
        order = ["0000:01:00.0", "0000:00:01.0", "0000:02:00.0",
                 "0000:00:1f.2"]
        g = ["--sysfs", sysfs, "--arch", "x86_64", "--unbound", "--memory",
             "1G", "--stand-in", "pci-testdev"] + [
                 x for b in order for x in ("--device", b)]
        rc, out, err = tool(*g)
        devs = [line.split(" ", 1)[1] for line in options(out)
                if line.startswith("-device ")]
        bus = {re.search(r"\bid=([^,]+)", d).group(1):
               re.search(r"\bbus=([^,]+)", d).group(1)
               for d in devs if ",bus=" in d}
        want = {"rp-hostdev0": "pcie.0", "hostdev0": "rp-hostdev0",
                "pxb-hostdev1": "pcie.0", "rp-hostdev1": "pxb-hostdev1",
                "hostdev1": "rp-hostdev1",
                "rp-hostdev2": "pcie.0", "hostdev2": "rp-hostdev2",
                "pxb-hostdev3": "pcie.0", "rp-hostdev3": "pxb-hostdev3",
                "hostdev3": "rp-hostdev3"}
        check(rc == 0 and len(bus) == len(devs) and bus == want,
              "every -device names its bus: GI device, numa_node 0 and no "
              "GI, GI device, numa_node 9 and no GI", "%r" % devs)
        if not qemu:
            return
        qargs = [x for line in options(out) for x in line.split(" ", 1)]
        p = subprocess.run([qemu, "-S", "-accel", "tcg", "-nodefaults",
                            "-display", "none", "-monitor", "stdio"] + qargs,
                           input="info qtree\nquit\n", stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True,
                           timeout=120)
        got = {k: v for k, v in qtree_parents(p.stdout).items() if k in want}
        check(p.returncode == 0 and got == want,
              "QEMU puts every device on the bus named (info qtree)",
              "exit %d, %r\n%s" % (p.returncode, got, p.stdout[-600:]))


def tree_cases():
    """pcie2hb: the host's PCIe tree in the options and in the JSON model"""
    p2 = os.path.join(FIX, "pcie2hb", "sys")
    g = ["--sysfs", p2, "--arch", "x86_64", "--unbound", "--memory", "1G",
         "--stand-in", "pci-testdev"] + [
             x for b in ("0000:23:00.0", "0000:24:00.0", "0000:43:00.0",
                         "0000:43:00.1", "0000:44:00.0", "0000:00:05.0")
             for x in ("--device", b)]
    rc, out, err = tool(*g)
    devs = [line.split(" ", 1)[1] for line in options(out)
            if line.startswith("-device ")]
    want = [
        "pxb-pcie,id=pxb-hostdev0,bus_nr=128,numa_node=0,bus=pcie.0",
        "pcie-root-port,id=rp-hostdev0,chassis=1,bus=pxb-hostdev0",
        "x3130-upstream,id=sw-hostdev0,bus=rp-hostdev0",
        "xio3130-downstream,id=ds-hostdev0,chassis=2,slot=0,bus=sw-hostdev0",
        "pci-testdev,id=hostdev0,bus=ds-hostdev0",
        "xio3130-downstream,id=ds-hostdev1,chassis=3,slot=0,bus=sw-hostdev0",
        "pci-testdev,id=hostdev1,bus=ds-hostdev1",
        "pxb-pcie,id=pxb-hostdev2,bus_nr=144,numa_node=1,bus=pcie.0",
        "pcie-root-port,id=rp-hostdev2,chassis=4,bus=pxb-hostdev2",
        "x3130-upstream,id=sw-hostdev2,bus=rp-hostdev2",
        "xio3130-downstream,id=ds-hostdev2,chassis=5,slot=0,bus=sw-hostdev2",
        "pci-testdev,id=hostdev2,bus=ds-hostdev2,addr=0x0.0,"
        "multifunction=on",
        "pci-testdev,id=hostdev3,bus=ds-hostdev2,addr=0x0.1",
        "xio3130-downstream,id=ds-hostdev4,chassis=6,slot=0,bus=sw-hostdev2",
        "pci-testdev,id=hostdev4,bus=ds-hostdev4",
        "pci-testdev,id=hostdev5,bus=pcie.0,addr=0x10.0"]
    check(rc == 0 and devs == want, "pcie2hb: an expander per host bridge "
          "with its node, a switch per host switch, the functions of one "
          "device together, the root bus's NIC on the root bus",
          "\n".join(devs))
    rc, out, err = tool(*g, "--format", "json")
    tree = json.loads(out)["tree"] if rc == 0 else []
    check([(b["bus"], b["host_bridge"], b["node"]) for b in tree] == [
        ("pxb-hostdev0", "pci0000:20", 0), ("pxb-hostdev2", "pci0000:40", 1),
        ("pcie.0", "pci0000:00", None)] and
        [[f["bdf"] for f in d["functions"]]
         for d in tree[1]["items"][0]["downstream"]] ==
        [["0000:43:00.0", "0000:43:00.1"], ["0000:44:00.0"]],
        "pcie2hb: --format json has the tree", out[-800:])


def libvirt_cases():
    """--format libvirt: what goes in libvirt's XML, what in
    <qemu:commandline>, and the node ids --format json agrees on"""
    g = ["--sysfs", GRACE, "--arch", "x86_64", "--memory", "1536M",
         "--device", "0000:01:00.0", "--device", "0000:02:00.0"]
    rc, out, err = tool(*g, "--unbound", "--format", "libvirt")
    root, args = libvirt_xml(out)
    cells = [(c.get("id"), c.get("cpus"), c.get("memory"))
             for c in root.iterfind("cpu/numa/cell")]
    check(rc == 0 and root.tag == "domain" and
          cells == [("0", "0-3", "1048"), ("1", None, "488")] and
          ["node,nodeid=%d" % n for n in range(2, 10)] ==
          [a for a in args if a.startswith("node,")],
          "libvirt: grace's memory nodes are cells 0-1, its GPU nodes 2-9 "
          "are -numa node in <qemu:commandline>", "%r %r" % (cells, args))
    check("<!-- guest node 1 = host node 9: 488 MiB" in out and
          "<!-- guest node 2 = host node 1: generic initiator of "
          "0000:01:00.0 -->" in out,
          "libvirt: comments map guest nodes to host nodes", out[:1500])
    objs = [json.loads(a) for a in args if a.startswith("{")]
    check(len(objs) == 9 and {"qom-type": "acpi-generic-initiator",
                              "id": "gi-ua-hostdev1-0",
                              "pci-dev": "ua-hostdev1", "node": 0} in objs
          and sorted(o["node"] for o in objs
                     if o["pci-dev"] == "ua-hostdev0") == list(range(2, 10)),
          "libvirt: one JSON acpi-generic-initiator per device and node, "
          "pci-dev its user alias", "%r" % objs)
    hd = [(h.find("source/address").get("bus"), h.find("alias").get("name"),
           h.find("address").get("bus"))
          for h in root.iterfind("devices/hostdev")]
    ports = [c.get("index") for c in root.iterfind("devices/controller")
             if c.get("model") == "pcie-root-port"]
    check(hd == [("0x01", "ua-hostdev0", "0x01"),
                 ("0x02", "ua-hostdev1", "0x02")] and ports == ["1", "2"],
          "libvirt: each device a <hostdev> with its host address and user "
          "alias, behind its own pcie-root-port", "%r %r" % (hd, ports))
    check(root.find("cpu/numa/interconnects") is None and
          root.find("cpu/numa/cell/cache") is None and
          args[:2] == ["-machine", "hmat=on"] and
          "hmat-cache,node-id=1,size=67108864,level=1,"
          "associativity=direct,policy=write-back,line=64" in args and
          len([a for a in args if a.startswith("hmat-lb,")]) == 72 and
          "guest node 1 (host node 9) has no vCPUs and no initiator" in err,
          "libvirt: the HBM cell has no initiator libvirt 9.0 could attach: "
          "all HMAT in <qemu:commandline>, with a note", err + " ".join(
              a for a in args if not a.startswith(("hmat-lb", "dist"))))
    check(root.find("cputune") is None and root.find("numatune") is None,
          "libvirt --unbound: no <cputune>, no <numatune>", out[:300])

    rc, out, err = tool(*g, "--format", "libvirt")
    root, args = libvirt_xml(out)
    check(rc == 0 and root.find("vcpu").get("cpuset") == "0-3" and
          [(p.get("vcpu"), p.get("cpuset"))
           for p in root.iterfind("cputune/vcpupin")] ==
          [(str(v), "0-3") for v in range(4)] and
          [(n.get("cellid"), n.get("mode"), n.get("nodeset"))
           for n in root.iterfind("numatune/memnode")] ==
          [("0", "strict", "0"), ("1", "strict", "9")],
          "libvirt bound: vCPUs pinned to their host node's CPUs, each "
          "cell's memory bound to its host node", out)

    rc, out, err = tool(*g, "--unbound", "--format", "json",
                        "--libvirt-ids")
    check(rc == 0 and [(n["guest"], n["host"]) for n in
                       json.loads(out)["nodes"]] ==
          [(0, 0), (1, 9)] + [(g, g - 1) for g in range(2, 10)],
          "--format json --libvirt-ids: the node ids of --format libvirt",
          out[:300])

    rc, out, err = tool(*g, "--unbound", "--format", "libvirt",
                        "--libvirt-version", "11.8")
    root, args = libvirt_xml(out)
    check(rc == 0 and [(c.get("id"), c.get("memory")) for c in
                       root.iterfind("cpu/numa/cell")][2:] ==
          [(str(n), "0") for n in range(2, 10)] and
          [h.find("acpi").get("nodeset") for h in
           root.iterfind("devices/hostdev")] == ["2-9", "0"] and
          not [a for a in args if a.startswith(("node,", "{"))] and
          len(root.findall("cpu/numa/cell/distances/sibling")) == 90,
          "libvirt 11.8: <cell memory='0'> and <hostdev><acpi nodeset>, "
          "no -numa node or -object in <qemu:commandline>", out)

    c = ["--sysfs", CXL, "--arch", "x86_64", "--unbound", "--memory",
         "1536M", "--format", "libvirt"]
    rc, out, err = tool(*c)
    root, args = libvirt_xml(out)
    rows = [(r.get("initiator"), r.get("target"))
            for r in root.iterfind("cpu/numa/interconnects/*")]
    check(rc == 0 and not err and set(rows) == {
        ("0", "0"), ("0", "1"), ("1", "1"), ("0", "2")} and
          "hmat-lb,initiator=1,target=0,hierarchy=memory,"
          "data-type=read-latency,latency=140" in args and
          "hmat-lb,initiator=1,target=2,hierarchy=memory,"
          "data-type=read-latency,latency=350" in args,
          "libvirt: <interconnects> between cells, one direction of a "
          "pair, only the CXL node's best initiator to it; the other rows "
          "in <qemu:commandline>", err + out)
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = tool("--sysfs", CXL, "--arch", "x86_64", "--unbound",
                            "--memory", "1536M", "--device", "0000:81:00.0",
                            "--format", "libvirt")
        root, args = libvirt_xml(out)
        pxb = root.find("devices/controller[@model='pcie-expander-bus']")
        check(rc == 0 and pxb is not None and
              pxb.find("target/node").text == "1" and
              root.find("devices/hostdev/address").get("bus") == "0x02",
              "libvirt: a device with a node and no generic initiator "
              "behind a root port on a pcie-expander-bus of its node", out)
        cache = {"memory_side_cache/index1/" + k: v for k, v in (
            ("size", "1048576\n"), ("line_size", "64\n"),
            ("indexing", "0\n"), ("write_policy", "0\n"))}
        sysfs = sysfs_copy(tmp, CXL, {"node0/" + k: v
                                      for k, v in cache.items()})
        rc, out, err = tool(*c[:1], sysfs, *c[2:])
        cell = libvirt_xml(out)[0].find("cpu/numa/cell[@id='0']/cache")
        check(rc == 0 and cell is not None and
              (cell.get("level"), cell.get("associativity"),
               cell.get("policy"), cell.find("size").get("value"),
               cell.find("size").get("unit"), cell.find("line").get("value"))
              == ("1", "direct", "writeback", "1024", "KiB", "64"),
              "libvirt: a memory-side cache of a cell with vCPUs as its "
              "<cache>", err + out)
    with tempfile.TemporaryDirectory() as tmp:
        sysfs = sysfs_copy(tmp, CXL, {"node1/meminfo":
                                      "Node 1 MemTotal:       0 kB\n"})
        error_case("libvirt: a node with CPUs and no memory",
                   r"--format libvirt: host node 1 has CPUs but no memory, "
                   r"which libvirt 9.0 cannot declare as a cell",
                   "--sysfs", sysfs, "--arch", "x86_64", "--unbound",
                   "--memory", "1G", "--format", "libvirt")
        rc, out, err = tool("--sysfs", sysfs, "--arch", "x86_64",
                            "--unbound", "--memory", "1G")
        check(rc == 0 and "-numa node,nodeid=1,cpus=2-3" in out,
              "--format qemu: that node is fine", err + out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", help="a qemu-system-x86_64 to start with "
                    "the options (bus placement); without it, not started")
    args = ap.parse_args()
    g = ["--sysfs", GRACE, "--arch", "x86_64", "--unbound"]
    error_case("unknown node", r"--nodes: host node 12 does not exist",
               *g, "--memory", "1G", "--nodes", "0,12")
    error_case("bad node list", r"--nodes: .*'0-x'", *g, "--memory", "1G",
               "--nodes", "0-x")
    error_case("device not on the host",
               r"--device 0000:07:00\.0: no such PCI device on the host",
               *g, "--memory", "1G", "--device", "0000:07:00.0")
    error_case("not a PCI address", r"'gpu0' is not a PCI address",
               *g, "--memory", "1G", "--device", "gpu0")
    error_case("memory on a node that has none",
               r"--node-memory 3=512M: host node 3 has no memory",
               *g, "--memory", "1G", "--device", "0000:01:00.0",
               "--node-memory", "3=512M")
    error_case("memory that does not fit",
               r"--memory 512M: 512 MiB cannot hold 1024 MiB for node 0",
               *g, "--memory", "512M", "--node-memory", "0=1G")
    error_case("no --memory", r"--memory SIZE is needed", *g)
    error_case("bad size", r"--memory: '1X' is not a size", *g,
               "--memory", "1X")
    error_case("too few vCPUs", r"--vcpus 1: the mirrored host nodes 0-1 "
               r"have CPUs", "--sysfs", CXL, "--arch", "x86_64",
               "--memory", "1G", "--vcpus", "1")
    error_case("a GI-only node asked for without its device",
               r"--nodes: host node 3 has only a generic initiator node",
               *g, "--memory", "1G", "--nodes", "0,3")
    with tempfile.TemporaryDirectory() as empty:
        error_case("not a sysfs root", r"no devices/system/node",
                   "--sysfs", empty, "--memory", "1G")
    error_case("no such sysfs root", r"no devices/system/node",
               "--sysfs", "/nonexistent", "--memory", "1G")

    # what it prints
    rc, out, err = tool(*g, "--memory", "1536M", "--device", "0000:01:00.0",
                        "--device", "0000:02:00.0")
    opts = options(out)
    check(rc == 0 and opts[0] == "-machine q35,hmat=on",
          "grace: -machine with hmat=on first", out[:200])
    gi = [o for o in opts if o.startswith("-object acpi-generic-initiator")]
    check(len(gi) == 9 and
          "-object acpi-generic-initiator,id=gi-hostdev1-0,"
          "pci-dev=hostdev1,node=0" in gi,
          "grace: 8 GPU nodes and the NIC's node 0 as generic initiators",
          "%r" % gi)
    check("-numa hmat-cache,node-id=9,size=67108864,level=1,"
          "associativity=direct,policy=write-back,line=64" in opts,
          "grace: the HBM node's memory-side cache", "%r" % opts)
    check("-device pcie-root-port,id=rp-hostdev0,chassis=1,bus=pcie.0"
          in opts and
          "-device vfio-pci,host=0000:01:00.0,id=hostdev0,bus=rp-hostdev0"
          in opts, "grace: the GPU as vfio-pci behind a root port",
          "%r" % opts)
    check(not any("host-nodes" in o or "vcpu-affinity" in o for o in opts),
          "--unbound: no host binding", "%r" % opts)
    check(all(len(o.split(" ")) == 2 for o in opts),
          "one option and its value per line", "%r" % opts)

    rc, out, err = tool("--sysfs", GRACE, "--arch", "x86_64", "--memory",
                        "1536M", "--device", "0000:01:00.0")
    opts = options(out)
    check("-object memory-backend-ram,id=mem0,size=1048M,host-nodes=0,"
          "policy=bind" in opts and
          "-object vcpu-affinity,id=va-node0,node=0,host-nodes=0" in opts,
          "bound: memory and vCPUs on their host nodes", "%r" % opts)

    rc, out, err = tool(*g, "--memory", "1G", "--device", "0000:02:00.0")
    check(rc == 0 and re.search(r"HMAT entries of host initiator-target "
                                r"pairs 1-0, 1-9, 2-0, .* left out", err),
          "without the GPU, its nodes' HMAT rows are left out with a note",
          err)

    rc, out, err = tool(*g, "--memory", "1G")
    check(rc == 0 and "host node 1 left out: only a generic initiator "
          "node" in err and "# guest node 1 = host node 9" in out,
          "without --device: GI-only nodes left out, dense ids mapped in "
          "comments", err + out[:600])

    rc, out, err = tool(*g, "--memory", "1536M", "--device",
                        "0000:01:00.0", "--device", "0000:02:00.0",
                        "--nodes", "0,9", "--node-memory", "9=512M")
    check(rc == 0 and "-object memory-backend-ram,id=mem1,size=512M"
          in options(out), "--nodes and --node-memory", err + out)

    rc, out, err = tool("--sysfs", CXL, "--arch", "x86_64", "--memory",
                        "1G", "--format", "json")
    check(rc == 0 and '"vcpus": 4' in out and '"data_type": '
          '"read-latency"' in out, "--format json", out[:300])

    # values that one 16-bit HMAT structure cannot hold exactly: rounded,
    # each change named
    with tempfile.TemporaryDirectory() as tmp:
        sysfs = os.path.join(tmp, "sys")
        shutil.copytree(CXL, sysfs, symlinks=True)
        shutil.rmtree(os.path.join(sysfs, "firmware"))
        node = os.path.join(sysfs, "devices", "system", "node")
        for n, v in ((1, "123457"), (2, "7")):
            for a in (0, 1):
                with open(os.path.join(node, "node%d" % n, "access%d" % a,
                                       "initiators", "read_latency"),
                          "w") as f:
                    f.write(v + "\n")
        rc, out, err = tool("--sysfs", sysfs, "--arch", "x86_64",
                            "--unbound", "--memory", "1G")
        check(rc == 0 and "initiator=1,target=1,hierarchy=memory,"
              "data-type=read-latency,latency=123460" in out and
              "rounded to multiples of 10: 1-1: 123457 -> 123460; "
              "0-2: 7 -> 10" in err,
              "HMAT values beyond 16 bits are rounded, with a note",
              err + out)

    # a host HMAT row whose target gets no memory in the guest (here
    # socket 1 made CPU-only, its access0 kept): left out, with a note,
    # as QEMU refuses it
    with tempfile.TemporaryDirectory() as tmp:
        sysfs = sysfs_copy(tmp, CXL, {
            "node1/meminfo": "Node 1 MemTotal:              0 kB\n",
            "has_memory": "0,2\n"})
        shutil.rmtree(os.path.join(sysfs, "firmware"))
        rc, out, err = tool("--sysfs", sysfs, "--arch", "x86_64",
                            "--unbound", "--memory", "1G")
        check(rc == 0 and "HMAT entries with guest target 1 left out: no "
              "memory there" in err and ",target=1," not in out and
              ",target=0," in out,
              "HMAT rows to a target without memory are left out, with a "
              "note", err + out)

    one_liner_cases()
    bus_cases(args.qemu)
    tree_cases()
    libvirt_cases()

    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
