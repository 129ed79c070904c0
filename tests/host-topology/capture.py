#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Capture the sysfs files that describe a NUMA topology, as a fixture tree.

scripts/host-topology.py reads a Linux host's NUMA topology from a sysfs
root (--sysfs DIR).  Its fixtures (tests/data/host-topology/NAME/sys) are
trees of the files a real Linux wrote, made by this script in two ways:

  capture.py --build DIR --assets FILE [--arch ARCH] --shape FILE --out DIR
      boots the guest of tests/guest (Debian's Linux, busybox, TCG; booted
      by tests/guest/guestboot.py exactly as numa-guest.py boots it) with
      the shape's QEMU arguments and "capture" on the kernel command line:
      tests/guest/init then prints the files as "@@ cap" lines, written
      back here below OUT/sys/.  Exit status 1 and a message if the guest
      did not reach "@@ end", captured nothing or lost bytes on the way,
      or if the initramfs has no capture mode (make guest-assets); a
      warning if its /init is not this tree's tests/guest/init;
  capture.py --local /sys --out DIR
      copies the same files from a running machine's sysfs; unreadable
      files (the ACPI tables as non-root) are skipped with a message.

Both write regular files with their exact bytes and symlinks as symlinks
with the target Linux reports, then print a summary of the tree
(--show DIR prints it for an existing fixture).  The files (paths relative
to /sys; what does not exist is skipped):

  devices/system/node/{possible,online,has_cpu,has_memory,
      has_normal_memory,has_generic_initiator}
  devices/system/node/nodeN/{cpulist,meminfo,distance}
  devices/system/node/nodeN/accessK/initiators/{read,write}_{latency,
      bandwidth}, and the nodeM links in accessK/initiators and targets
  devices/system/node/nodeN/memory_side_cache/indexK/{size,line_size,
      indexing,write_policy}
  bus/pci/devices/* (links), and numa_node, vendor, device and class in
      the directory each points to, at that directory's own path
  firmware/acpi/tables/{SRAT,SLIT,HMAT}

A shape file (shapes/NAME.args) is the topology part of a QEMU command
line, one option a line with its value after a space ("-numa node,..."),
"#" comment lines and blank lines ignored; its first line is a comment
whose first word is the architecture (x86_64 or aarch64), then the
machine.  The guest's own options (accelerator, console, kernel, Arm
firmware and -cpu cortex-a57) come from guestboot.py.
"""

import argparse
import glob
import os
import re
import shutil
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
for _d in (("tests", "guest"), ("scripts",)):
    if os.path.join(TOP, *_d) not in sys.path:
        sys.path.insert(0, os.path.join(TOP, *_d))
import guestboot  # noqa: E402
import numatopo  # noqa: E402

NODE = "devices/system/node"
NODE_MASKS = ("possible", "online", "has_cpu", "has_memory",
              "has_normal_memory", "has_generic_initiator")
ACCESS_VALUES = ("read_latency", "write_latency", "read_bandwidth",
                 "write_bandwidth")
CACHE_VALUES = ("size", "line_size", "indexing", "write_policy")
PCI_FILES = ("numa_node", "vendor", "device", "class")
TABLES = ("SRAT", "SLIT", "HMAT")


class CaptureError(Exception):
    pass


def read_shape(path):
    """(architecture, QEMU arguments) of a shape file"""
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or not lines[0].startswith("#"):
        raise CaptureError("%s: the first line must be a comment naming the "
                           "architecture and machine" % path)
    words = lines[0].lstrip("#").split()
    arch = words[0].rstrip(":,") if words else ""
    if arch not in guestboot.HOST_ARCH:
        raise CaptureError("%s: the first line's first word must be one of "
                           "%s, not %r" % (path, ", ".join(
                               sorted(guestboot.HOST_ARCH)), arch))
    args = []
    for k, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        opt, _, value = line.partition(" ")
        if not opt.startswith("-"):
            raise CaptureError("%s:%d: not an option: %s" % (path, k, line))
        args.append(opt)
        if value.strip():
            args.append(value.strip())
    return arch, args


# ---- the set of files, from a sysfs root on this machine --------------

def local_paths(root):
    """The paths of the set that exist below ROOT, relative to it"""
    def ls(pattern):
        return sorted(os.path.relpath(p, root)
                      for p in glob.glob(os.path.join(root, pattern)))

    out = ["%s/%s" % (NODE, f) for f in NODE_MASKS]
    for d in ls(NODE + "/node[0-9]*"):
        out += ["%s/%s" % (d, f) for f in ("cpulist", "meminfo", "distance")]
        for a in ls(d + "/access[0-9]*"):
            out += ["%s/initiators/%s" % (a, v) for v in ACCESS_VALUES]
            out += ls(a + "/initiators/node[0-9]*")
            out += ls(a + "/targets/node[0-9]*")
        for c in ls(d + "/memory_side_cache/index[0-9]*"):
            out += ["%s/%s" % (c, v) for v in CACHE_VALUES]
    real_root = os.path.realpath(root)
    for link in ls("bus/pci/devices/*"):
        if not os.path.islink(os.path.join(root, link)):
            continue
        out.append(link)
        dev = os.path.relpath(os.path.realpath(os.path.join(root, link)),
                              real_root)
        if not dev.startswith(".."):
            out += ["%s/%s" % (dev, f) for f in PCI_FILES]
    out += ["firmware/acpi/tables/" + t for t in TABLES]
    return out


def local_entries(root):
    """{relpath: ("file", bytes) or ("link", target)} of ROOT's files"""
    entries = {}
    for rel in local_paths(root):
        path = os.path.join(root, rel)
        if os.path.islink(path):
            entries[rel] = ("link", os.readlink(path))
        elif os.path.isfile(path):
            try:
                with open(path, "rb") as f:
                    entries[rel] = ("file", f.read())
            except OSError as e:
                print("capture: skipped %s: %s" % (path, e.strerror),
                      file=sys.stderr)
    return entries


# ---- the set of files, from the guest's console -----------------------

def parse_capture(out):
    """{relpath: ("file", bytes) or ("link", target)} of the "@@ cap" lines
    of tests/guest/init; CaptureError if the lines do not add up"""
    files, sizes, entries = {}, {}, {}
    for line in out.splitlines():
        m = re.search(r"@@ cap (file|hex|link) (.*)$", line.rstrip("\r"))
        if not m:
            continue
        words = m.group(2).split()
        if not words:
            raise CaptureError("garbled console line: %r" % line)
        kind, rel = m.group(1), words[0]
        if kind == "link":
            if len(words) != 2:
                raise CaptureError("garbled console line: %r" % line)
            entries[rel] = ("link", words[1])
        elif kind == "file":
            if len(words) != 2 or not words[1].isdigit():
                raise CaptureError("garbled console line: %r" % line)
            files[rel] = bytearray()
            sizes[rel] = int(words[1])
            entries[rel] = None
        else:
            if rel not in files:
                raise CaptureError("bytes of %s before its file line" % rel)
            try:
                files[rel].extend(bytes(int(b, 16) for b in words[1:]))
            except ValueError:
                raise CaptureError("garbled console line: %r" % line)
    for rel, data in files.items():
        if len(data) != sizes[rel]:
            raise CaptureError("%s: %d bytes on the console, the guest read "
                               "%d" % (rel, len(data), sizes[rel]))
        entries[rel] = ("file", bytes(data))
    return entries


# ---- the tree ---------------------------------------------------------

def write_tree(entries, out):
    """Write ENTRIES below OUT/sys, replacing what was there"""
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".sys-", dir=out)
    try:
        os.chmod(tmp, 0o755)
        real_tmp = os.path.realpath(tmp)
        for rel, (kind, value) in sorted(entries.items()):
            parts = rel.split("/")
            if rel.startswith("/") or ".." in parts or "" in parts:
                raise CaptureError("refusing path %r" % rel)
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if not os.path.realpath(os.path.dirname(path)).startswith(
                    real_tmp + os.sep):
                raise CaptureError("%s: a parent is a link" % rel)
            if kind == "link":
                os.symlink(value, path)
            else:
                with open(path, "wb") as f:
                    f.write(value)
        final = os.path.join(out, "sys")
        if os.path.lexists(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)


# ---- what the tree says -----------------------------------------------

def srat_nodes(srat):
    """[(Linux node, proximity domain, roles)] of an SRAT, numbered the way
    Linux numbers them (numatopo.linux_node_ids)"""
    entries = numatopo.parse_srat(srat)
    roles = {}
    for e in entries:
        if e.get("enabled"):
            role = {"cpu": "CPU", "gi": "GI", "memory": "memory"}.get(
                e["kind"])
            if role and role not in roles.setdefault(e["pxm"], []):
                roles[e["pxm"]].append(role)
    ids = numatopo.linux_node_ids(entries)
    return sorted((n, pxm, roles[pxm]) for pxm, n in ids.items())


def summary(sysdir):
    """Lines describing the tree below SYSDIR, for a fixture's README"""
    t = numatopo.read_sysfs(sysdir)
    out = ["node masks: " + ", ".join(
        "%s %s" % (m, numatopo.format_list(t["masks"][m]) or "-")
        for m in numatopo.NODE_MASKS)]
    out.append("%-6s %-8s %-10s %s" % ("node", "cpulist", "MemTotal",
                                       "distance"))
    for n, node in sorted(t["nodes"].items()):
        out.append("%-6s %-8s %-10s %s" % (
            "node%d" % n, numatopo.format_list(node["cpus"]) or "-",
            "%d MiB" % (node["mem_kb"] // 1024) if node["mem_kb"] else "-",
            " ".join(map(str, node["distance"])) or "-"))

    def names(ids):
        return " ".join("node%d" % i for i in ids) or "-"
    for n, node in sorted(t["nodes"].items()):
        for a, acc in sorted(node["access"].items()):
            out.append("node%d access%d: initiators %s; targets %s; latency "
                       "read/write %s/%s ns, bandwidth read/write %s/%s "
                       "MB/s" % ((n, a, names(acc["initiators"]),
                                  names(acc["targets"])) +
                                 tuple(acc.get(v, "-")
                                       for v in numatopo.ACCESS_ATTRS)))
        for c in node["caches"]:
            out.append("node%d memory_side_cache/index%d: " % (
                n, c["level"]) + ", ".join(
                    "%s %s" % (v, c[v]) for v in CACHE_VALUES))
    for bdf, dev in sorted(t["pci"].items()):
        out.append("pci %s: %s:%s class %s numa_node %d (%s)" % (
            bdf, dev["vendor"] or "?", dev["device"] or "?",
            dev["class"] or "?", dev["numa_node"], dev["sysfs_path"]))
    sizes = ["%s %d bytes" % (k, len(v))
             for k, v in sorted(t["tables"].items(),
                                key=lambda kv: TABLES.index(kv[0]))]
    out.append("ACPI tables: " + (", ".join(sizes) or "none"))
    if "SRAT" in t["tables"]:
        for n, pxm, roles in srat_nodes(t["tables"]["SRAT"]):
            out.append("SRAT: Linux node%d = proximity domain %d (%s)"
                       % (n, pxm, ", ".join(roles)))
    return out


# ---- main -------------------------------------------------------------

def initrd_init(path):
    """The bytes of /init in an uncompressed newc cpio archive, or None"""
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while data[off:off + 6] == b"070701":
        try:
            size = int(data[off + 54:off + 62], 16)
            namesize = int(data[off + 94:off + 102], 16)
        except ValueError:
            return None
        name = data[off + 110:off + 110 + namesize - 1]
        start = (off + 110 + namesize + 3) & ~3
        if name in (b"init", b"./init"):
            return data[start:start + size]
        if name == b"TRAILER!!!":
            return None
        off = (start + size + 3) & ~3
    return None


def capture_guest(args):
    arch, shape_args = read_shape(args.shape)
    if args.arch and args.arch != arch:
        raise CaptureError("%s is for %s, not --arch %s" %
                           (args.shape, arch, args.arch))
    assets = guestboot.load_assets(args.assets)
    initrd = assets.get("INITRD_" + arch)
    if not initrd or not os.path.isfile(initrd):
        raise CaptureError("%s names no initramfs for %s" %
                           (args.assets, arch))
    init = initrd_init(initrd)
    if init is None or b"@@ cap " not in init:
        raise CaptureError("%s has no /init with capture mode (built from "
                           "an older tests/guest/init?): make guest-assets"
                           % initrd)
    with open(os.path.join(TOP, "tests", "guest", "init"), "rb") as f:
        if f.read() != init:
            print("capture: WARNING: the /init of %s is not this tree's "
                  "tests/guest/init: make guest-assets" % initrd,
                  file=sys.stderr)
    workdir = args.keep or tempfile.mkdtemp(prefix="capture-")
    os.makedirs(workdir, exist_ok=True)
    try:
        cmd, out, rc, secs = guestboot.boot(
            args.build, arch, assets, workdir, shape_args,
            append="capture", timeout=args.timeout)
        lines = out.splitlines()
        if not any(re.search(r"@@ end\s*$", line) for line in lines):
            raise CaptureError(
                "the guest did not reach \"@@ end\" (QEMU exit %s after "
                "%.1f s); last lines:\n  %s" % (
                    guestboot.describe(rc), secs, "\n  ".join(
                    lines[-15:])))
        entries = parse_capture(out)
        if not entries:
            raise CaptureError("the guest reached \"@@ end\" but captured "
                               "nothing")
        kernel = re.search(r"@@ kernel (.*)$", out, re.M)
        print("capture: %s %s booted and powered off in %.1f s (TCG), "
              "Linux %s" % (arch, os.path.basename(args.shape), secs,
                            kernel.group(1).strip() if kernel else "?"))
        for line in lines:
            m = re.search(r"@@ dmesg (.*SRAT: .*(PXM|Node).*)$", line)
            if m:
                print("capture: dmesg: " + m.group(1).strip())
        return entries
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Guest: --build, --assets, --shape [--arch]; this machine: "
        "--local; an existing tree: --show.")
    ap.add_argument("--build", help="QEMU build directory")
    ap.add_argument("--assets", help="assets.env of make guest-assets")
    ap.add_argument("--arch", choices=sorted(guestboot.HOST_ARCH),
                    help="the shape's architecture (default: its first "
                    "line's)")
    ap.add_argument("--shape", help="shape file: QEMU topology options")
    ap.add_argument("--local", metavar="SYSFS",
                    help="copy from this sysfs root instead (e.g. /sys)")
    ap.add_argument("--out", help="write OUT/sys (replaced if it exists)")
    ap.add_argument("--show", metavar="DIR",
                    help="print the summary of DIR/sys and exit")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--keep", help="keep the guest's console log here")
    args = ap.parse_args()

    try:
        if args.show:
            for line in summary(os.path.join(args.show, "sys")):
                print(line)
            return 0
        if not args.out:
            ap.error("--out is required")
        if args.local:
            if args.shape:
                ap.error("--local and --shape exclude each other")
            entries = local_entries(args.local)
            if not entries:
                raise CaptureError("nothing to copy below %s" % args.local)
        else:
            if not (args.build and args.assets and args.shape):
                ap.error("--build, --assets and --shape are required "
                         "(or --local)")
            entries = capture_guest(args)
        write_tree(entries, args.out)
    except CaptureError as e:
        print("capture: ERROR: %s" % e, file=sys.stderr)
        return 1
    links = sum(1 for k, _ in entries.values() if k == "link")
    print("capture: wrote %d files and %d links below %s" % (
        len(entries) - links, links, os.path.join(args.out, "sys")))
    for line in summary(os.path.join(args.out, "sys")):
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
