#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot a Linux guest on a NUMA topology and check what the guest sees.

A topology (tests/guest/topologies/*.json) lists the NUMA nodes (CPUs,
memory, attached initiator), the PCI devices and the nodes each is linked
to with acpi-generic-initiator objects, and HMAT latencies/bandwidths.
This script turns it into a QEMU command line for x86 q35 or Arm virt,
boots Debian's kernel with a busybox initramfs (tests/guest/init) under
TCG, and compares the guest's /sys/devices/system/node with what the
topology implies for Linux:

  - every node is possible and online; has_cpu, has_memory and
    has_generic_initiator name the nodes with that role;
  - for each memory node with HMAT data: access0 lists its attached
    initiator if it has one, else the best initiators by latency, then
    bandwidth, devices (generic initiators) included; access1 does the
    same among CPU nodes only; the latencies (ns) and bandwidths (MB/s)
    are the configured ones of the initiators listed.

The guest numbers its nodes itself, in the order it meets proximity
domains in SRAT, so guest nodes are matched to QEMU's by role (CPU count,
memory or not, generic initiator or not, then the rank of the memory
size), not by number.

  --check   print one line per check; exit status 1 if any failed
  --migrate stop the guest once its /init runs, migrate it to a second
            QEMU and check what it prints there
  --demo    also print the command line and the SRAT/HMAT the guest
            got, as iasl decodes them
"""

import argparse
import os
import re
import shlex
import shutil
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guestboot  # noqa: E402
from numaguest import (HOST_ARCH, Checker, Topology, boot,  # noqa: E402
                       load_assets, parse_guest, show_guest, show_tables,
                       verify)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True,
                    help="QEMU build directory (qemu-system-* in it)")
    ap.add_argument("--assets", required=True,
                    help="assets.env written by mk/assets.sh guest")
    ap.add_argument("--arch", default="x86_64", choices=sorted(HOST_ARCH))
    ap.add_argument("--topology", required=True, help="topology JSON file")
    ap.add_argument("--extra-args", default="",
                    help="more QEMU arguments, appended")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--migrate", action="store_true",
                    help="migrate the guest to a second QEMU once its "
                    "/init runs")
    ap.add_argument("--verbose", action="store_true",
                    help="print the checks that passed too")
    ap.add_argument("--keep", help="keep the console log and tables here")
    args = ap.parse_args()

    assets = load_assets(args.assets)
    topo = Topology(args.topology)
    if topo.arches and args.arch not in topo.arches:
        print("numa-guest: topology %s is for %s only (its \"arches\")"
              % (topo.name, ", ".join(topo.arches)), file=sys.stderr)
        return 1
    if topo.kernel != "6.1":
        # KERNEL612_x86_64: a kernel that knows generic ports
        key = "KERNEL%s_%s" % (topo.kernel.replace(".", ""), args.arch)
        if key not in assets:
            print("numa-guest: topology %s wants Linux %s: no %s in %s"
                  % (topo.name, topo.kernel, key, args.assets),
                  file=sys.stderr)
            return 1
        assets["KERNEL_" + args.arch] = assets[key]
    machine = "q35" if args.arch == "x86_64" else "virt"
    label = "%s %s %s%s" % (args.arch, machine, topo.name,
                            " migrated" if args.migrate else "")

    workdir = args.keep or tempfile.mkdtemp(prefix="numa-guest-")
    os.makedirs(workdir, exist_ok=True)
    try:
        stalls = []
        cmd, out, rc, secs = boot(args, topo, assets, workdir, stalls)
        for st in stalls:
            # make check names the test flaky (mk/check.sh)
            print(guestboot.STALL_NOTE + st.report())
        if args.demo:
            print(textwrap.fill("Topology '%s': %s" % (topo.name,
                                                        topo.description),
                                width=78) + "\n")
            print("QEMU command line:")
            line = " ".join(shlex.quote(c) for c in cmd)
            print("  " + re.sub(r" (-[a-z])", r" \\\n    \1", line))
        g = parse_guest(out)
        if args.demo:
            print("%s: guest booted and powered off in %.1f s (TCG)%s"
                  % (label, secs, "" if rc == 0 else ", QEMU: %s" % rc))
        ck = Checker(quiet=not args.verbose)
        if "end" not in g:
            ck.check(False, "guest %s ran tests/guest/init to the end"
                     % label, "QEMU exit %s after %.1f s; last lines:\n      "
                     % (guestboot.describe(rc), secs) +
                     "\n      ".join(out.splitlines()[-15:]))
            return 1
        # QEMU's own warnings ("ACPI table size ... exceeds 65536 bytes,
        # migration may not work" among them) come before the console's
        warnings = [line for line in out.splitlines()
                    if re.match(r"qemu-system-\S+: warning:", line)]
        ck.check(not warnings, "QEMU printed no warning for %s" % label,
                 "\n      ".join(warnings))
        if args.migrate:
            # the destination printed the rest, up to init's last line
            ck.check("migrated" in g and
                     out.index("@@ migrated") < out.index("@@ end"),
                     "guest %s stopped in /init, migrated, and ran to the "
                     "end on the destination" % label,
                     "QEMU: %s" % rc)
        if args.demo:
            show_tables(g, workdir)
        q2g = verify(topo, g, ck)
        if args.demo:
            show_guest(topo, g, q2g)
            print("\n%d checks of the guest's view passed, %d failed"
                  % (ck.passed, ck.failed))
        if ck.failed:
            print("    guest console: %s/console.log%s" % (
                workdir, "" if args.keep else " (removed; --keep DIR "
                "keeps it)"))
            for line in g["dmesg"]:
                if "hmat" in line or "NUMA" in line:
                    print("    dmesg: " + line)
        elif not args.demo:
            print("guest %s: %d checks passed, %.1f s boot under TCG"
                  % (label, ck.passed, secs))
        return 1 if ck.failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
