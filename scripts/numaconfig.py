# SPDX-License-Identifier: GPL-2.0-or-later
"""How a guest's NUMA topology is written: QEMU options and libvirt XML.

The pieces scripts/gi-libvirt.py and scripts/host-topology.py share (and
the tests that read what they print):

  - QEMU's option values for HMAT rows and memory-side caches, and the
    acpi-generic-initiator object, as key=value (a QEMU command line) or
    as JSON (the form libvirt uses for objects);
  - ElementTree builders for libvirt domain XML: <qemu:commandline> and
    its arguments, the <numa> cells, <interconnects> and caches libvirt
    itself can write, a virtio-rng stand-in for a passed-through device,
    and the TCG test domain (kernel and initrd boot) both tools print
    with --domain, with its command-line options.

What libvirt 9.0 can and cannot express, and hence what goes in
<qemu:commandline>, is in docs/system/libvirt.rst.
"""

import json
import os
import re
import xml.etree.ElementTree as ET

import numatopo
from numatopo import format_list, parse_list

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
ET.register_namespace("qemu", QEMU_NS)

# libvirt's rule for user aliases, which it keeps as the QEMU id
ALIAS = re.compile(r"^ua-[A-Za-z0-9_-]+$")

# libvirt's vocabulary: HMAT data types (ACPI 6.5, Table 5.149) as
# <latency>/<bandwidth> type, and the sysfs values of a memory-side cache
LIBVIRT_ACCESS = {0: "access", 1: "read", 2: "write",
                  3: "access", 4: "read", 5: "write"}
LIBVIRT_ASSOCIATIVITY = {0: "direct", 1: "full", 2: "none"}
LIBVIRT_POLICY = {0: "writeback", 1: "writethrough", 2: "none"}

MACHINES = {"x86_64": "q35", "aarch64": "virt"}
CONSOLES = {"x86_64": "ttyS0", "aarch64": "ttyAMA0"}


# QEMU -------------------------------------------------------------------

def hmat_lb(initiator, target, hierarchy, data_type, value):
    """The value of '-numa hmat-lb': latencies in ns, bandwidths in MB/s"""
    return ("hmat-lb,initiator=%d,target=%d,hierarchy=%s,data-type=%s,%s"
            % (initiator, target, numatopo.HMAT_HIERARCHY[hierarchy],
               numatopo.HMAT_DATA_TYPES[data_type],
               "latency=%d" % value if data_type <= 2 else
               "bandwidth=%dM" % value))


def hmat_cache(node, cache):
    """The value of '-numa hmat-cache' for a cache in sysfs's vocabulary
    (numatopo.read_sysfs)"""
    return ("hmat-cache,node-id=%d,size=%d,level=%d,associativity=%s,"
            "policy=%s,line=%d" % (
                node, cache["size"], cache["level"],
                numatopo.CACHE_INDEXING[cache["indexing"]],
                numatopo.CACHE_WRITE_POLICY[cache["write_policy"]],
                cache["line_size"]))


def generic_initiator(dev_id, node):
    """The acpi-generic-initiator object linking device DEV_ID to NODE"""
    return {"qom-type": "acpi-generic-initiator",
            "id": "gi-%s-%d" % (dev_id, node), "pci-dev": dev_id,
            "node": node}


def object_keyval(obj):
    """An object as '-object' takes it on a command line: type first"""
    return ",".join([obj["qom-type"]] + ["%s=%s" % (k, v) for k, v in
                                         obj.items() if k != "qom-type"])


def object_json(obj):
    return json.dumps(obj, separators=(",", ":"))


# the test topologies ---------------------------------------------------

class Topology:
    """A topology file of tests/guest/topologies (JSON; the format is in
    tests/guest/README.md): nodes, devices linked to generic initiator
    nodes, HMAT rows; the QEMU arguments that build it on q35 or virt, and
    what Linux will publish for it (access0/access1)."""

    def __init__(self, path):
        with open(path) as f:
            t = json.load(f)
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.description = t.get("description", "")
        # the guest architectures that can boot it (default: all)
        self.arches = t.get("arches")
        self.nodes = {}
        for n in t["nodes"]:
            self.nodes[n["id"]] = {
                "cpus": parse_list(n.get("cpus", "")),
                "cpus_text": n.get("cpus", ""),
                "mem": n.get("memory-mb", 0),
                "initiator": n.get("initiator"),
                "gi": [],
                "ports": [],
            }
        self.devices = t.get("devices", [])
        for d in self.devices:
            for n in d["nodes"]:
                self.nodes[n]["gi"].append(d["id"])
        # CXL host bridges as generic ports: {"id", "bus-nr", "node"}
        self.ports = t.get("ports", [])
        for p in self.ports:
            self.nodes[p["node"]]["ports"].append(p["id"])
        # the guest kernel: "6.1" (default) or "6.12", which knows generic
        # ports
        self.kernel = t.get("kernel", "6.1")
        self.lb = {}
        for e in t.get("hmat-lb", []):
            self.lb[(e["initiator"], e["target"])] = (e["latency-ns"],
                                                       e["bandwidth-mbs"])

    def has_cpu(self, n):
        return bool(self.nodes[n]["cpus"])

    def role(self, n):
        node = self.nodes[n]
        parts = []
        if node["cpus"]:
            parts.append("CPUs %s" % node["cpus_text"])
        if node["mem"]:
            parts.append("%d MiB" % node["mem"])
        if node["gi"]:
            parts.append("GI " + ",".join(node["gi"]))
        if node["ports"]:
            parts.append("generic port " + ",".join(node["ports"]))
        return " + ".join(parts) or "empty"

    def linux_node(self, n):
        """Does Linux make node @n a NUMA node?  Not for a generic port
        alone: Linux keeps such a domain as an HMAT target for CXL"""
        node = self.nodes[n]
        return bool(node["cpus"] or node["mem"] or node["gi"])

    def qemu_args(self, arch):
        smp = 1 + max(c for n in self.nodes.values() for c in n["cpus"])
        mem = sum(n["mem"] for n in self.nodes.values())
        hmat = ",hmat=on" if self.lb else ""
        cxl = ",cxl=on" if self.ports else ""
        # one vCPU per socket: nodes split no socket or cluster, which
        # QEMU 9.1 and later warn of (Linux may misbehave with it)
        a = ["-machine", MACHINES[arch] + cxl + hmat,
             "-smp", "%d,sockets=%d" % (smp, smp), "-m", "%dM" % mem]
        for i in sorted(self.nodes):
            n = self.nodes[i]
            opt = "node,nodeid=%d" % i
            if n["cpus"]:
                opt += ",cpus=" + n["cpus_text"]
            if n["mem"]:
                a += ["-object", "memory-backend-ram,id=mem%d,size=%dM"
                      % (i, n["mem"])]
                opt += ",memdev=mem%d" % i
            if n["initiator"] is not None:
                opt += ",initiator=%d" % n["initiator"]
            a += ["-numa", opt]
        for k, d in enumerate(self.devices):
            dev = "pci-testdev,id=" + d["id"]
            if d.get("root-port"):
                a += ["-device", "pcie-root-port,id=rp-%s,chassis=%d"
                      % (d["id"], k + 1)]
                dev += ",bus=rp-" + d["id"]
            elif d.get("multifunction"):
                slot = 0x10 + k
                a += ["-device", "pci-testdev,id=%s-fn0,addr=0x%x.0,"
                      "multifunction=on" % (d["id"], slot)]
                dev += ",addr=0x%x.1" % slot
            elif self.ports:
                # not behind a CXL host bridge, which takes bridges only
                dev += ",bus=pcie.0"
            a += ["-device", dev]
        for p in self.ports:
            a += ["-device", "pxb-cxl,id=%s,bus=pcie.0,bus_nr=%d"
                  % (p["id"], p["bus-nr"]),
                  "-object", "acpi-generic-port,id=gp-%s,pci-bus=%s,node=%d"
                  % (p["id"], p["id"], p["node"])]
        for d in self.devices:
            for n in d["nodes"]:
                a += ["-object",
                      object_keyval(generic_initiator(d["id"], n))]
        for (i, t), (lat, bw) in sorted(self.lb.items()):
            a += ["-numa", hmat_lb(i, t, 0, 0, lat),
                  "-numa", hmat_lb(i, t, 0, 3, bw)]
        return a

    def best(self, target, candidates):
        """Linux's choice among initiators without an attached one: the
        lowest latency, then among those the highest bandwidth."""
        cands = [i for i in candidates if (i, target) in self.lb]
        if not cands:
            return [], None
        lat = min(self.lb[(i, target)][0] for i in cands)
        cands = [i for i in cands if self.lb[(i, target)][0] == lat]
        bw = max(self.lb[(i, target)][1] for i in cands)
        cands = [i for i in cands if self.lb[(i, target)][1] == bw]
        return sorted(cands), (lat, bw)

    def expected_access(self, target):
        """{access: (initiators, (latency, bandwidth))} for a memory node"""
        att = self.nodes[target]["initiator"]
        inits = [i for i in self.nodes
                 if self.has_cpu(i) or self.nodes[i]["gi"]]
        cpus = [i for i in inits if self.has_cpu(i)]
        out = {}
        if att is not None:
            out["access0"] = ([att], self.lb.get((att, target)))
        else:
            out["access0"] = self.best(target, inits)
        if att is not None and self.has_cpu(att):
            out["access1"] = ([att], self.lb.get((att, target)))
        else:
            out["access1"] = self.best(target, cpus)
        return {k: v for k, v in out.items() if v[0]}


# libvirt XML ---------------------------------------------------------------

def element(parent, tag, text=None, **attrs):
    """A new element (a child of PARENT unless it is None), its attribute
    values turned into strings"""
    attrs = {k: str(v) for k, v in attrs.items()}
    e = ET.Element(tag, attrs) if parent is None else \
        ET.SubElement(parent, tag, attrs)
    if text is not None:
        e.text = str(text)
    return e


def comment(parent, text):
    c = ET.Comment(" %s " % text)
    if parent is not None:
        parent.append(c)
    return c


def commandline(parent=None):
    """The <qemu:commandline> element (the domain needs xmlns:qemu, which
    ElementTree writes when it writes the element)"""
    return element(parent, "{%s}commandline" % QEMU_NS)


def arguments(cl, note, args):
    """Append ARGS to <qemu:commandline> CL, after a comment"""
    if not args:
        return
    comment(cl, note)
    for a in args:
        element(cl, "{%s}arg" % QEMU_NS, value=a)


def node_arguments(nodes):
    """'-numa node' for nodes libvirt 9.0 cannot declare: generic
    initiators only, no memory"""
    return [x for n in nodes for x in ("-numa", "node,nodeid=%d" % n)]


def initiator_arguments(alias, nodes):
    """One JSON '-object acpi-generic-initiator' per node of the device
    with libvirt user alias ALIAS"""
    return [x for n in nodes for x in
            ("-object", object_json(generic_initiator(alias, n)))]


def cell(numa, cid, mib, cpus=None):
    """A <cell> of <numa>: CPUS a list of vCPUs, MIB its memory"""
    attrs = {"id": cid}
    if cpus:
        attrs["cpus"] = format_list(cpus)
    attrs.update(memory=mib, unit="MiB")
    return element(numa, "cell", **attrs)


def interconnect(numa, initiator, target, data_type, value, hierarchy=0):
    """A <latency> (ns) or <bandwidth> (MB/s) row of <interconnects>, made
    when the first row comes; HIERARCHY > 0 is the target's cache level"""
    ic = numa.find("interconnects")
    if ic is None:
        ic = element(numa, "interconnects")
    attrs = {"initiator": initiator, "target": target}
    if hierarchy:
        attrs["cache"] = hierarchy
    attrs.update(type=LIBVIRT_ACCESS[data_type], value=value)
    if data_type <= 2:
        return element(ic, "latency", **attrs)
    return element(ic, "bandwidth", **attrs, unit="MiB")


def cell_cache(cell_elem, cache):
    """A memory-side cache (sysfs's vocabulary) as <cache> of a <cell>;
    libvirt takes its size in KiB"""
    c = element(cell_elem, "cache", level=cache["level"],
                associativity=LIBVIRT_ASSOCIATIVITY[cache["indexing"]],
                policy=LIBVIRT_POLICY[cache["write_policy"]])
    element(c, "size", value=cache["size"] // 1024, unit="KiB")
    element(c, "line", value=cache["line_size"], unit="B")
    return c


def pci_address(parent, bus, slot, tag="address", **kw):
    return element(parent, tag, type="pci", domain="0x0000",
                   bus="0x%02x" % bus, slot="0x%02x" % slot,
                   function="0x0", **kw)


def stand_in(devices, alias, bus, slot, what):
    """A virtio-rng device with user alias ALIAS in place of WHAT: the
    libvirt element for an emulated PCI device that any QEMU and guest
    have, and that nothing in the test guest drives"""
    comment(devices, "stands in for %s: a <hostdev> with the same alias in "
            "real use" % what)
    rng = element(devices, "rng", model="virtio")
    element(rng, "backend", "/dev/urandom", model="random")
    element(rng, "alias", name=alias)
    pci_address(rng, bus, slot)
    return rng


def add_domain_options(ap, name):
    """The options of a --domain: a TCG test domain booting a kernel"""
    ap.add_argument("--domain", action="store_true",
                    help="print a whole TCG domain booting --kernel and "
                    "--initrd (a test domain)")
    ap.add_argument("--name", default=name, help="--domain: its name")
    ap.add_argument("--emulator",
                    help="--domain: QEMU binary (default: "
                    "/usr/bin/qemu-system-ARCH)")
    ap.add_argument("--kernel", default="/boot/vmlinuz")
    ap.add_argument("--initrd", default="/boot/initrd.img")
    ap.add_argument("--cmdline", help="--domain: the kernel command line "
                    "(default: console=ttyS0 (ttyAMA0 on aarch64) quiet "
                    "panic=-1)")
    ap.add_argument("--loader", default="/usr/share/AAVMF/AAVMF_CODE.fd",
                    help="--domain on aarch64: UEFI code")
    ap.add_argument("--nvram-template",
                    default="/usr/share/AAVMF/AAVMF_VARS.fd",
                    help="--domain on aarch64: UEFI variables template")
    ap.add_argument("--nvram", help="--domain on aarch64: default "
                    "/var/lib/libvirt/qemu/nvram/NAME_VARS.fd")
    ap.add_argument("--console-log", help="--domain: serial console to "
                    "this file")


def test_domain(a, arch, mib, vcpus):
    """A domain that boots a kernel and initrd under TCG (A: the options
    of add_domain_options): returns it, with an empty <cpu> and
    <devices> for the caller to fill"""
    x86 = arch == "x86_64"
    root = element(None, "domain", type="qemu")
    element(root, "name", a.name)
    element(root, "memory", mib, unit="MiB")
    element(root, "vcpu", vcpus, placement="static")
    os_ = element(root, "os")
    element(os_, "type", "hvm", arch=arch, machine=MACHINES[arch])
    if not x86:
        element(os_, "loader", a.loader, readonly="yes", type="pflash")
        element(os_, "nvram", a.nvram or "/var/lib/libvirt/qemu/nvram/"
                "%s_VARS.fd" % a.name, template=a.nvram_template)
    element(os_, "kernel", a.kernel)
    element(os_, "initrd", a.initrd)
    element(os_, "cmdline", a.cmdline or "console=%s quiet panic=-1"
            % CONSOLES[arch])
    element(element(root, "features"), "acpi")
    if x86:
        element(root, "cpu")
    else:
        element(element(root, "cpu", mode="custom"), "model", "cortex-a57")
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        element(root, event, "destroy")
    devices = element(root, "devices")
    element(devices, "emulator", a.emulator or "/usr/bin/qemu-system-"
            + arch)
    if a.console_log:
        element(element(devices, "serial", type="file"), "source",
                path=a.console_log)
    element(devices, "controller", type="usb", model="none")
    element(devices, "memballoon", model="none")
    return root


def to_text(elem):
    """ELEM as indented XML text"""
    ET.indent(elem)
    return ET.tostring(elem, encoding="unicode")
