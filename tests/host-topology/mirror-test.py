#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Mirror a captured host into a Linux guest and compare what both see.

For a fixture (tests/data/host-topology/NAME: the sysfs files and ACPI
tables a Linux host showed), runs scripts/host-topology.py on it, boots the
guest of tests/guest with the options it printed and "capture" on the
kernel command line (tests/guest/init then prints the same set of files),
and compares the guest's facts with the fixture's, every one:

  - the node masks (possible, online, has_cpu, has_memory,
    has_generic_initiator), each node's number of CPUs, memory or not, and
    its row of the distance matrix;
  - for each memory node, access0 and access1: the initiators and their
    read/write latency and bandwidth;
  - the memory-side caches: size, line size, indexing, write policy;
  - the nodes each passed-through device is a generic initiator of (from
    both SRATs).

Both sides' facts are on the host's node ids: a guest node's id comes from
its proximity domain (the guest's SRAT, read the way Linux numbers nodes),
which is the QEMU node id, which the tool's JSON model maps to a host node.
The test also reports whether the guest's own Linux node ids equal the
host's.

  --alter FILE=VALUE   change one file of a copy of the fixture first: the
                       test must then fail on that fact (make check runs
                       this once to show that it can fail)
  --move BDF=PORT      mirror the fixture, but compare the guest with a
                       copy in which device BDF sits below bridge PORT
                       (another switch's downstream port): the test must
                       then fail on the PCIe tree alone (make check runs
                       this once to show that it can fail)
  --without-tables     a copy of the fixture without its ACPI tables, as a
                       user who is not root sees it: the HMAT then comes
                       from the kernel's access0/access1 only
  --demo               also print the host's view, the tool's command line
                       and output, the guest's view, and every fact side
                       by side (make demo DEMO_HOST=NAME)
"""

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mirror  # noqa: E402  (puts scripts/ and tests/guest on the path)
import capture  # noqa: E402
import guestboot  # noqa: E402
import numatopo  # noqa: E402
from mirror import FIXTURES  # noqa: E402

def moved_copy(fixture, move, workdir):
    """A copy of FIXTURE in which device BDF sits below bridge PORT
    (MOVE: "BDF=PORT"): its directory moved there, its link in
    bus/pci/devices pointed at it.  Its other files (numa_node) stay."""
    bdf, _, port = move.partition("=")
    copy = os.path.join(workdir, "moved", "sys")
    shutil.rmtree(os.path.dirname(copy), ignore_errors=True)
    shutil.copytree(fixture, copy, symlinks=True)
    links = os.path.join(copy, numatopo.PCI_DIR)

    def real(b):
        link = os.path.join(links, b)
        return os.path.normpath(os.path.join(links, os.readlink(link)))
    new = os.path.join(real(port), bdf)
    shutil.move(real(bdf), new)
    os.unlink(os.path.join(links, bdf))
    os.symlink(os.path.relpath(new, links), os.path.join(links, bdf))
    return copy


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--assets", required=True)
    ap.add_argument("--fixture", required=True, choices=sorted(FIXTURES))
    ap.add_argument("--arch", choices=("x86_64", "aarch64"),
                    help="the guest's architecture, if not the fixture's "
                    "(a host's shape in the other machine: q35 or virt)")
    ap.add_argument("--alter", metavar="FILE=VALUE")
    ap.add_argument("--without-tables", action="store_true")
    ap.add_argument("--move", metavar="BDF=PORT")
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--keep", help="keep the guest's tree and console here")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()

    arch, extra = FIXTURES[args.fixture]
    arch = args.arch or arch
    fixture = os.path.join(mirror.FIXTURE_DIR, args.fixture, "sys")
    workdir = args.keep or tempfile.mkdtemp(prefix="mirror-")
    os.makedirs(workdir, exist_ok=True)
    try:
        if args.alter or args.without_tables:
            copy = os.path.join(workdir, "fixture", "sys")
            shutil.rmtree(os.path.dirname(copy), ignore_errors=True)
            shutil.copytree(fixture, copy, symlinks=True)
            fixture = copy
        if args.alter:
            rel, _, value = args.alter.partition("=")
            with open(os.path.join(fixture, rel), "w") as f:
                f.write(value + "\n")
        if args.without_tables:
            shutil.rmtree(os.path.join(fixture, numatopo.TABLE_DIR))
        text, notes = mirror.run_tool(fixture, arch, extra, "qemu")
        model = json.loads(mirror.run_tool(fixture, arch, extra, "json")[0])
        qargs = mirror.qemu_lines(text)
        if qargs != [x for o in model["options"] for x in o]:
            print("  FAIL --format qemu and --format json disagree")
            return 1
        # the guest boots from the documented one-liner: the tool runs
        # QEMU, given after "--", with the topology put after its name
        # (docs/system/host-topology.rst); the guest harness's own options
        # stand for the user's
        boot = guestboot.command(args.build, arch,
                                 guestboot.load_assets(args.assets),
                                 workdir, [], append="capture")
        one_liner = mirror.one_liner(fixture, arch, extra, boot)
        if args.demo:
            print("The host (%s), as its sysfs shows it:" % fixture)
            print("  " + "\n  ".join(capture.summary(fixture)))
            print("\nThe guest, booted as a user types it:\n\n  %s\n" %
                  mirror.show_command(one_liner))
            print("with these options from the tool, in QEMU's command "
                  "line after its name:\n")
            print("\n".join(mirror.shorten(text.splitlines())))
            print(notes)
        stalls = []
        out, rc, secs = guestboot.run(one_liner, workdir, args.timeout,
                                      stalls)
        for st in stalls:
            # make check names the test flaky (mk/check.sh)
            print(guestboot.STALL_NOTE + st.report())
        if "host-topology: running %s %s" % (
                boot[0], " ".join(shlex.quote(a) for a in qargs)) not in out:
            print("  FAIL the one-liner did not run QEMU with the options "
                  "of --format qemu:\n    %s" % "\n    ".join(
                      out.splitlines()[:20]))
            return 1
        try:
            entries = capture.parse_capture(out)
        except capture.CaptureError as e:
            entries = {}
            print("  FAIL %s" % e)
        if not entries:
            print("  FAIL the guest captured nothing (QEMU exit %s after "
                  "%.1f s): %s/console.log\n    %s" % (
                      guestboot.describe(rc), secs, workdir,
                      "\n    ".join(out.splitlines()[-15:])))
            return 1
        capture.write_tree(entries, os.path.join(workdir, "guest"))
        if args.demo:
            print("The guest (%s, TCG, booted and powered off in %.1f s), "
                  "as its sysfs shows it:" % (arch, secs))
            print("  " + "\n  ".join(capture.summary(
                os.path.join(workdir, "guest", "sys"))))
        guest = numatopo.read_sysfs(os.path.join(workdir, "guest", "sys"))
        host = numatopo.read_sysfs(moved_copy(fixture, args.move,
                                              workdir)
                                   if args.move else fixture)

        to_host = mirror.node_map(guest, model)
        bdfs = [extra[i + 1] for i, a in enumerate(extra) if a == "--device"]
        want = mirror.host_facts(host, bdfs)
        got = mirror.guest_facts(guest, to_host)
        checked, failed = mirror.compare(want, got, args.fixture, args.demo)
        same = all(to_host(n) == n for n in guest["nodes"])
        print("mirror %s%s: %d of %d facts of the host equal in a %s guest "
              "(%.1f s boot under TCG); guest Linux node ids %s the host's"
              % (args.fixture, " (without its ACPI tables)"
                 if args.without_tables else "", checked - failed, checked,
                 arch, secs,
                 "equal" if same else "differ from"))
        if notes.strip():
            print("  tool notes: " + notes.strip().replace(
                "\n", "\n              "))
        return 1 if failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
