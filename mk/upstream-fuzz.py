#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A seeded random QMP sequence over generic initiators and ports, run on
two QEMU binaries: which step, if any, kills each (make check-upstream).

  upstream-fuzz.py [--seed N] [--steps N] BUILD-DIR NAME=QEMU...

Each NAME=QEMU is a qemu-system-x86_64 to try (ours, Debian's upstream);
BUILD-DIR is ours, for the base's python/qemu/qmp library.  Every binary
gets the same q35 command line (8 nodes, three PCI devices, a CXL host
bridge) and the same sequence: object-add of acpi-generic-initiator and
acpi-generic-port with devices, buses and nodes that exist and that do
not, object-del, qom-set and qom-get of "node", device_del, and
system_reset.  After a reset the step waits for SeaBIOS to load the ACPI
tables again (its debug console says "ACPI: parse DSDT"), since that is
when QEMU builds them.  The sequence depends on the seed only, not on the
replies, so both binaries see the same commands.

A binary survives when it answers after every step and quits with status
0 at the end.  The first step after which one does not answer is printed
with its command and QEMU's last words.  Exit status: 0 when the first
NAME survives (what the others do is reported, not judged), 1 otherwise.
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "guest"))
import guestboot  # noqa: E402

NODES = 8
MACHINE = [
    "-machine", "q35,cxl=on", "-accel", "tcg", "-nodefaults",
    "-display", "none", "-smp", "2", "-m", "256M",
    "-object", "memory-backend-ram,id=m0,size=256M",
    "-numa", "node,nodeid=0,cpus=0-1,memdev=m0",
] + [x for n in range(1, NODES) for x in ("-numa", "node,nodeid=%d" % n)] + [
    "-device", "pci-testdev,id=dev0,addr=3",
    "-device", "pci-testdev,id=dev1,addr=4",
    "-device", "pcie-root-port,id=rp0,chassis=1,addr=5",
    "-device", "pci-testdev,id=dev2,bus=rp0",
    "-device", "pxb-cxl,id=cxl.1,bus=pcie.0,bus_nr=12,addr=6",
]
# what the objects may name: existing ones first, then ones that do not
DEVICES = ["dev0", "dev1", "dev2", "nodev", "rp0"]
BUSES = ["cxl.1", "nobus"]
NODE_VALUES = list(range(NODES)) + [NODES, 200]
FW_MARK = b"ACPI: parse DSDT"


def sequence(seed, steps):
    """the commands, (name, arguments), from SEED alone"""
    rnd = random.Random(seed)
    ids = ["gi%d" % i for i in range(4)] + ["gp%d" % i for i in range(2)]
    out = []
    for _ in range(steps):
        r = rnd.random()
        oid = rnd.choice(ids)
        node = rnd.choice(NODE_VALUES)
        if r < 0.35:
            if oid.startswith("gi"):
                args = {"qom-type": "acpi-generic-initiator", "id": oid,
                        "pci-dev": rnd.choice(DEVICES), "node": node}
            else:
                args = {"qom-type": "acpi-generic-port", "id": oid,
                        "pci-bus": rnd.choice(BUSES), "node": node}
            out.append(("object-add", args))
        elif r < 0.5:
            out.append(("object-del", {"id": oid}))
        elif r < 0.65:
            out.append(("qom-set", {"path": "/objects/" + oid,
                                    "property": "node", "value": node}))
        elif r < 0.75:
            out.append(("qom-get", {"path": "/objects/" + oid,
                                    "property": "node"}))
        elif r < 0.82:
            out.append(("device_del", {"id": rnd.choice(DEVICES[:3])}))
        else:
            out.append(("system_reset", {}))
    return out


def marks(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(FW_MARK)
    except FileNotFoundError:
        return 0


def run(build, qemu, cmds, workdir):
    """(None, steps run) if QEMU survived, else (the failing step's number,
    what happened)"""
    fw = os.path.join(workdir, "fw.log")
    cmd = [qemu] + MACHINE + [
        "-chardev", "file,id=fw,path=" + fw,
        "-device", "isa-debugcon,iobase=0x402,chardev=fw"]
    q = guestboot.Console(build, cmd, os.path.join(workdir, "qmp.sock"))

    def dead(step, what):
        rc = q.wait(10)
        last = q.text().strip().splitlines()[-1:] or ["(nothing)"]
        return step, "%s; QEMU's exit status %s, its last words: %s" % (
            what, rc, last[0])

    def wait_tables(before):
        """None once the firmware has read the tables, else why not"""
        end = time.monotonic() + 60
        while marks(fw) <= before:
            if q.p.poll() is not None:
                return "QEMU ended before the firmware read the tables"
            if time.monotonic() > end:
                return "the firmware did not read the tables in 60 s"
            time.sleep(0.02)
        return None

    why = wait_tables(0)
    if why:
        return dead(0, "start-up: " + why)
    for i, (name, args) in enumerate(cmds, 1):
        before = marks(fw)
        try:
            q.mon.cmd_obj({"execute": name, "arguments": args})
            why = wait_tables(before) if name == "system_reset" else None
            if why:
                return dead(i, "%s %s: %s" % (name, json.dumps(args), why))
            q.cmd("query-status")
        except Exception as e:     # noqa: B902 (the monitor went away)
            return dead(i, "%s %s: no reply (%s)" % (
                name, json.dumps(args), type(e).__name__))
    try:
        q.cmd("quit")
    except Exception:              # noqa: B902
        pass
    rc = q.wait(30)
    if rc != 0:
        return len(cmds), "quit gave exit status %s" % rc
    return None, len(cmds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int,
                    default=int.from_bytes(os.urandom(4), "little"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("build")
    ap.add_argument("qemus", nargs="+", metavar="NAME=QEMU")
    a = ap.parse_args()
    cmds = sequence(a.seed, a.steps)
    print("upstream-fuzz: seed %d, %d steps" % (a.seed, a.steps))
    verdict = 0
    for k, spec in enumerate(a.qemus):
        name, qemu = spec.split("=", 1)
        with tempfile.TemporaryDirectory() as d:
            step, what = run(a.build, qemu, cmds, d)
        if step is None:
            print("upstream-fuzz: %s survived all %d steps" % (name, what))
            continue
        print("upstream-fuzz: %s died at step %d of %d: %s"
              % (name, step, len(cmds), what))
        if k == 0:
            verdict = 1
    return verdict


if __name__ == "__main__":
    sys.exit(main())
