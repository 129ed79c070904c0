#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check that an MMIO read reaches its device while another vCPU changes
the memory map (TCG).

Builds tests/guest/tlb-remap.S, a multiboot program, and boots it on a
2-vCPU q35 machine under multi-threaded TCG with a pci-testdev at
00:03.0 and isa-debug-exit.  vCPU 1 reads the first dword of PCIe ECAM
and its local APIC's ID over and over, and acknowledges its local APIC
timer's interrupts, while vCPU 0 turns the testdev's memory decoding,
below both, off and on; every read must give the first value, and the
timer interrupt must not stay in service.  A QEMU that
resolves a TLB entry filled before a change of the map in the map after
it reads another device there, or aborts in iotlb_to_section().

Needs gcc (as a driver for the assembler) and ld with elf_i386, as the
QEMU build itself does.  Exit status 0 if the check passed, 1 if not.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# QEMU's status for isa-debug-exit's codes: (code << 1) | 1
RESULTS = {33: None,
           35: "vCPU 1 read another value, or lost an end-of-interrupt",
           37: "ECAM is not enabled (PCIEXBAR)",
           39: "vCPU 1 did not start"}


def build(workdir, toggles):
    """tlb-remap.S as a multiboot ELF in WORKDIR: its path"""
    obj = os.path.join(workdir, "tlb-remap.o")
    elf = os.path.join(workdir, "tlb-remap.elf")
    subprocess.run(["gcc", "-m32", "-c", "-DTOGGLES=%d" % toggles, "-o", obj,
                    os.path.join(HERE, "tlb-remap.S")], check=True)
    subprocess.run(["ld", "-m", "elf_i386", "--no-warn-rwx-segments",
                    "-T", os.path.join(HERE, "tlb-remap.ld"), "-o", elf, obj],
                   check=True)
    return elf


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True,
                    help="QEMU build directory (qemu-system-x86_64 in it)")
    ap.add_argument("--toggles", type=int, default=20000,
                    help="times vCPU 0 turns the decoding off and on "
                    "(default 20000)")
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--keep", metavar="DIR",
                    help="build and log in DIR, and keep them")
    args = ap.parse_args()
    if args.toggles < 1:
        ap.error("--toggles must be at least 1, not %d" % args.toggles)

    workdir = args.keep or tempfile.mkdtemp(prefix="tlb-remap-")
    os.makedirs(workdir, exist_ok=True)
    try:
        try:
            elf = build(workdir, args.toggles)
        except (OSError, subprocess.CalledProcessError) as e:
            print("FAIL tlb-remap: cannot build the guest: %s" % e)
            return 1
        cmd = [os.path.join(args.build, "qemu-system-x86_64"),
               "-machine", "q35", "-smp", "2", "-m", "128M",
               "-accel", "tcg,thread=multi", "-nodefaults",
               "-display", "none", "-vga", "none", "-monitor", "none",
               "-serial", "stdio", "-no-reboot",
               "-device", "pci-testdev,addr=3",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
               "-kernel", elf]
        print("tlb-remap: running %s" % " ".join(cmd))
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               timeout=args.timeout)
            out, rc = p.stdout.decode(errors="replace"), p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            rc = "timed out after %d s" % args.timeout
        with open(os.path.join(workdir, "console.log"), "w") as f:
            f.write(out)
        said = [line for line in out.splitlines() if line.strip()]
        print("\n".join("    " + line for line in said[-10:]))
        if rc in RESULTS and RESULTS[rc] is None:
            print("tlb-remap: %d map changes under vCPU 1's reads of ECAM "
                  "and of its local APIC and its timer interrupts' "
                  "end-of-interrupt writes, every access reached its device"
                  % args.toggles)
            return 0
        if rc in RESULTS:
            why = RESULTS[rc]
        elif isinstance(rc, int) and rc < 0:
            why = "QEMU died of signal %d" % -rc
        else:
            why = "QEMU exit %s" % rc
        m = re.search(r"toggles (\w+) ecam (\w+) value (\w+) expected "
                      r"(\w+) apic (\w+) value (\w+) expected (\w+) "
                      r"ticks (\w+) in-service (\w+)", out)
        if m and rc == 35:
            n = [int(x, 16) for x in m.groups()]
            why = ("during %d map changes, vCPU 1's reads of ECAM gave "
                   "another value %d times (the last 0x%08x, not 0x%08x), "
                   "of its local APIC's ID %d times (0x%08x, not 0x%08x)"
                   % tuple(n[:7]))
            if n[8]:
                why += ("; its timer interrupt stayed in service after %d "
                        "ticks: an end-of-interrupt write was lost" % n[7])
        else:
            why += ": " + (said[-1] if said else "(nothing printed)")
        print("FAIL tlb-remap: %s" % why)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
