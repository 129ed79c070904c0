#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench: what the series costs, measured comparably.

Prints a table and writes the same figures as JSON (--out).  Every figure
names the machine it ran on.  Nothing here is asserted: make check only
runs this at a tiny size (--tiny) to see that it works.

 1. start-up instructions of QEMU's main thread (callgrind, minimum of 3
    runs) of QEMU -S that quits at once: q35 with N NUMA nodes, D PCI devices on root ports and a
    generic initiator per GI-only node, against the same command line
    without the objects and with as many trivial objects (secret).  The
    figure of merit is (GI - none) / (secret - none).
    1b: the same with -machine hmat=on and node 0's latency and bandwidth
    to its memory, identical in the three command lines: the HMAT then
    lists every initiator, 128 with the objects.
 2. a full HMAT (every initiator to the memory node: the GI command line
    has 127 x 2 more -numa hmat-lb options than the others, so this ratio
    is not comparable to 1's), and the SRAT/HMAT sizes a Linux guest gets
    against the ACPI formula.
 3. wall-clock start-up with and without the objects: the median of the
    ratios of interleaved runs.
 4. vCPU affinity: one qom-set re-pinning every vCPU (the host-cpus of a
    vcpu-affinity rule naming them all) at -smp 64, 128, 256 and 512 (Arm
    virt, TCG), as seen by the QMP client, beyond the round trip of the
    same command naming no object (fig_repin()); the same with the
    default rule, which moves the emulator threads too (from QEMU's
    thread registry), and with an emulator-affinity rule, which moves
    them alone; the host's floor for as many threads, the same calls
    from a bare C loop (mk/affinity-floor.c); and, per vCPU, the time
    from the creation of its thread to its affinity being in place
    (trace events).  --figure 4 runs this figure alone.
 5. guest boot time with and without the objects (the guest tests' MIG
    topology), x86 q35 and Arm virt, TCG.
 6. resident memory (VmRSS of QEMU -S, median of 5 runs) that one object
    costs: 127 generic initiators at 128 nodes against none; 128 vcpu
    affinity rules (one per vCPU, as libvirt's <vcpupin>) at -smp
    1,maxcpus=128 against none.
"""

import argparse
import datetime
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "guest"))
import numaguest  # noqa: E402  (puts scripts/ on the path)
from guestboot import qmp_command  # noqa: E402
from numaconfig import generic_initiator, hmat_lb, object_keyval  # noqa
QUIT = b'{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n'


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {"host": socket.gethostname(), "cpu": model,
            "cpus": len(os.sched_getaffinity(0)), "memory-mib": mem,
            "kernel": platform.release(),
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}


def topology(nodes, devs, kind, hmat=None):
    """q35 arguments: node 0 with CPUs and memory, nodes 1.. GI-only.
    HMAT: None (off), "node0" (node 0's rows only), "full" (a row from
    every initiator)"""
    a = ["-machine", "q35" + (",hmat=on" if hmat else ""), "-accel", "tcg",
         "-S", "-display", "none", "-nodefaults", "-qmp", "stdio",
         "-m", "256M", "-smp", "2",
         "-object", "memory-backend-ram,id=m0,size=256M",
         "-numa", "node,nodeid=0,cpus=0-1,memdev=m0"]
    for n in range(1, nodes):
        a += ["-numa", "node,nodeid=%d" % n]
    for d in range(devs):
        a += ["-device", "pcie-root-port,id=rp%d,chassis=%d" % (d, d + 1),
              "-device", "pci-testdev,id=dev%d,bus=rp%d" % (d, d)]
    for n in range(1, nodes):
        if kind == "gi":
            # short ids, like the secrets' (the figures compare the two)
            gi = generic_initiator("dev%d" % ((n - 1) % devs), n)
            a += ["-object", object_keyval(dict(gi, id="gi%d" % n))]
        elif kind == "secret":
            a += ["-object", "secret,id=s%d,data=x" % n]
    if hmat:
        inits = range(nodes) if kind == "gi" and hmat == "full" else [0]
        for i in inits:
            a += ["-numa", hmat_lb(i, 0, 0, 0, 10 + i),
                  "-numa", hmat_lb(i, 0, 0, 3, 20000 - i)]
    return a


class Qemu:
    """How to run a QEMU binary: ours is run as it is; Debian 13's
    (--upstream, unpacked by mk/assets.sh upstream) through trixie's
    dynamic loader, with its modules and firmware"""

    def __init__(self, path, upstream=None):
        self.prefix, self.suffix, self.env = [path], [], None
        if upstream:
            with open(os.path.join(upstream, "env")) as f:
                v = dict(line.rstrip("\n").split("=", 1) for line in f
                         if "=" in line and not line.startswith("#"))
            self.prefix = [v["UPSTREAM_LOADER"], "--library-path",
                           v["UPSTREAM_LIBRARY_PATH"],
                           os.path.join(v["UPSTREAM_ROOT"], "usr/bin",
                                        os.path.basename(path))]
            self.suffix = [x for d in v["UPSTREAM_FIRMWARE"].split(":")
                           for x in ("-L", d)]
            self.env = dict(os.environ,
                            QEMU_MODULE_DIR=v["UPSTREAM_MODULE_DIR"])

    def cmd(self, args):
        return self.prefix + args + self.suffix


def callgrind(qemu, args):
    """Instructions of QEMU's main thread, where options are parsed,
    objects created and tables built.  The other threads (RCU, vCPUs
    initialising under -S) add a few million that vary from run to run."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        p = subprocess.run(["valgrind", "--tool=callgrind",
                            "--separate-threads=yes",
                            "--callgrind-out-file=" + out] + qemu.cmd(args),
                           input=QUIT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, check=False,
                           env=qemu.env)
        try:
            with open(out + "-01") as f:
                m = re.search(r"^(?:totals|summary): (\d+)", f.read(), re.M)
        except OSError:
            m = None
    if not m:
        sys.exit("bench: callgrind gave no count:\n" +
                 p.stderr.decode(errors="replace")[-2000:])
    return int(m.group(1))


def wall(qemu, args):
    t = time.monotonic()
    subprocess.run([qemu] + args, input=QUIT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - t


def fig_instructions(qemu, nodes, devs, runs, hmat):
    out = {}
    for kind in ("none", "gi", "secret"):
        out[kind] = min(callgrind(qemu, topology(nodes, devs, kind, hmat))
                        for _ in range(runs))
    out["ratio"] = round((out["gi"] - out["none"]) /
                         max(1, out["secret"] - out["none"]), 2)
    return out


def fig_wall(qemu, nodes, devs, runs):
    ratios, base, gi = [], [], []
    for _ in range(runs):
        b = wall(qemu, topology(nodes, devs, "none"))
        g = wall(qemu, topology(nodes, devs, "gi"))
        base.append(b)
        gi.append(g)
        ratios.append(g / b)
    return {"median-ms-none": round(statistics.median(base) * 1000, 1),
            "median-ms-gi": round(statistics.median(gi) * 1000, 1),
            "median-ratio": round(statistics.median(ratios), 3)}


class Qmp:
    """QEMU under QMP, through the base's python/qemu/qmp library: QEMU
    connects to a socket this side listens on"""

    def __init__(self, build, cmd):
        sys.path.insert(0, os.path.join(os.path.dirname(build), "python"))
        from qemu.qmp.legacy import QEMUMonitorProtocol
        self.dir = tempfile.TemporaryDirectory()
        sock = os.path.join(self.dir.name, "qmp.sock")
        self.mon = QEMUMonitorProtocol(sock, server=True)
        self.p = subprocess.Popen(cmd + ["-qmp", "unix:" + sock],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        self.mon.accept()

    def cmd(self, name, **args):
        return qmp_command(self.mon, name, **args)

    def quit(self):
        qmp_command(self.mon, "quit")
        try:
            self.mon.close()
        except EOFError:
            pass        # QEMU closed the socket first
        self.p.wait()
        self.dir.cleanup()


REPIN_RULES = ("vcpus", "default", "emulator")


def fig_repin(build, smp, runs):
    """Figure 4 at SMP vCPUs, for each rule of REPIN_RULES: "vcpus", a
    vcpu-affinity rule naming every vCPU; "default", the default rule,
    which places the emulator threads too; "emulator", an
    emulator-affinity rule, the emulator threads alone (what the default
    rule adds to the first).

    One QEMU per rule, all running at once, and their commands
    interleaved: the host's speed drifts by tens of percent over minutes
    (one of the build machine's 2 CPUs was 1.6 times slower than the
    other for a while), which measuring the rules one after the other
    turned into differences between them.

    The baseline is the same qom-set, byte for byte but for the object's
    name, which names no object: QEMU's monitor reads a command one byte
    at a time (monitor_can_read() allows 1), about 8 us a byte on this
    project's build machine, so a shorter command such as query-status
    would leave 0.6 ms of reading in the figure.  Both go through
    cmd_obj(), which adds no "id" (cmd() adds one: 20 bytes more)."""
    cpus = sorted(os.sched_getaffinity(0))
    qemu = os.path.join(build, "qemu-system-aarch64")
    obj = {"vcpus": "vcpu-affinity,id=r,vcpus=0-%d," % (smp - 1),
           "default": "vcpu-affinity,id=r,",
           "emulator": "emulator-affinity,id=r,"}
    qmps = {}
    try:
        for rule in REPIN_RULES:
            qmps[rule] = Qmp(build, [
                qemu, "-machine", "virt,gic-version=3", "-cpu", "cortex-a57",
                "-accel", "tcg", "-S", "-display", "none", "-nodefaults",
                "-smp", str(smp),
                "-object", "%shost-cpus=%d" % (obj[rule], cpus[0])])
        sets = {rule: [] for rule in REPIN_RULES}
        empty = {rule: [] for rule in REPIN_RULES}
        for k in range(runs):
            value = [cpus[(k + 1) % len(cpus)]]
            for rule in REPIN_RULES:
                for path, times, key in (("/objects/-", empty[rule], "error"),
                                         ("/objects/r", sets[rule], "return")):
                    t = time.monotonic()
                    reply = qmps[rule].mon.cmd_obj(
                        {"execute": "qom-set",
                         "arguments": {"path": path, "property": "host-cpus",
                                       "value": value}})
                    times.append(time.monotonic() - t)
                    assert key in reply, reply
        info = {rule: q.cmd("query-vcpu-affinity")
                for rule, q in qmps.items()}
    finally:
        for q in qmps.values():
            q.quit()
    want = [cpus[runs % len(cpus)]]
    out = []
    for rule in REPIN_RULES:
        ok = rule == "emulator" or all(v.get("affinity") == want
                                       for v in info[rule]["vcpus"])
        if rule != "vcpus":
            ok = ok and info[rule]["emulator"].get("affinity") == want
        qom_set = statistics.median(sets[rule])
        rtt = statistics.median(empty[rule])
        out.append({"vcpus": smp, "rule": rule,
                    "median-ms-qom-set": round(qom_set * 1000, 3),
                    "median-ms-no-object": round(rtt * 1000, 3),
                    "ms-beyond-no-object": round((qom_set - rtt) * 1000, 3),
                    "all-vcpus-moved": ok})
    return out


def repin_sizes(tiny):
    """figure 4's sizes: vCPUs, and threads for its floor"""
    return (8,) if tiny else (64, 128, 256, 512)


def fig_repin_all(build, tiny):
    """figure 4 (fig_repin()) at each size, ordered by rule"""
    runs = 3 if tiny else 61
    res = [r for smp in repin_sizes(tiny)
           for r in fig_repin(build, smp, runs)]
    return sorted(res, key=lambda r: REPIN_RULES.index(r["rule"]))


def fig_floor_all(tiny):
    """figure 4's floor: mk/affinity-floor.c, the same sched_setaffinity()
    calls from a bare C loop, the calling thread free ("vcpus" rule) or
    moving itself last ("default" rule), at each size"""
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "affinity-floor")
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-pthread", "-o",
                        exe, os.path.join(TOP, "mk", "affinity-floor.c")],
                       check=True)
        out = []
        for n in repin_sizes(tiny):
            r = {"threads": n}
            for mode in ("free", "follow"):
                med, low = subprocess.run(
                    [exe, str(n), "3" if tiny else "41", mode], check=True,
                    stdout=subprocess.PIPE).stdout.decode().split()
                r["median-ms-" + mode] = float(med)
                r["min-ms-" + mode] = float(low)
            out.append(r)
        return out


def floor_line(r):
    return ("    %3d threads, bare C loop: caller free %.2f ms, caller "
            "moving itself last %.2f ms"
            % (r["threads"], r["median-ms-free"], r["median-ms-follow"]))


def repin_line(r):
    return ("    %3d vCPUs, %-8s rule: qom-set %.2f ms, to no object "
            "%.2f ms: %.2f ms beyond%s"
            % (r["vcpus"], r["rule"], r["median-ms-qom-set"],
               r["median-ms-no-object"], r["ms-beyond-no-object"],
               "" if r["all-vcpus-moved"] else "  NOT ALL MOVED"))


def rss_kib(cmd):
    """VmRSS of QEMU once it answers QMP"""
    q = Qmp(os.path.dirname(cmd[0]), cmd)
    q.cmd("query-status")
    with open("/proc/%d/status" % q.p.pid) as f:
        kib = int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))
    q.quit()
    return kib


def fig_memory(build, nodes, devs, runs):
    """bytes of resident memory per generic initiator and per rule"""
    x86 = os.path.join(build, "qemu-system-x86_64")
    base = [x86] + topology(nodes, devs, "none")
    gi = [x86] + topology(nodes, devs, "gi")
    # the same machine: -qmp is Qmp's, not stdio
    for a in (base, gi):
        i = a.index("-qmp")
        del a[i:i + 2]
    n = nodes - 1
    none_kib = statistics.median(rss_kib(base) for _ in range(runs))
    gi_kib = statistics.median(rss_kib(gi) for _ in range(runs))
    # rules for the 128 possible vCPUs of one that exists: 128 vCPU
    # threads would make the figure their stacks' noise
    smp = 128
    plain = [x86, "-machine", "q35", "-accel", "tcg", "-S", "-display",
             "none", "-nodefaults", "-smp", "1,maxcpus=%d" % smp]
    cpu = min(os.sched_getaffinity(0))
    rules = plain + [x for v in range(smp) for x in (
        "-object", "vcpu-affinity,id=v%d,vcpus=%d,host-cpus=%d"
        % (v, v, cpu))]
    plain_kib = statistics.median(rss_kib(plain) for _ in range(runs))
    rules_kib = statistics.median(rss_kib(rules) for _ in range(runs))
    return {"gi-objects": n, "kib-none": none_kib, "kib-gi": gi_kib,
            "bytes-per-gi": round((gi_kib - none_kib) * 1024 / n),
            "rules": smp, "kib-no-rules": plain_kib,
            "kib-rules": rules_kib,
            "bytes-per-rule": round((rules_kib - plain_kib) * 1024 / smp)}


def fig_creation(build, smp):
    """thread creation -> affinity in place, from trace timestamps"""
    qemu = os.path.join(build, "qemu-system-x86_64")
    cpus = sorted(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "trace.log")
        subprocess.run([qemu, "-machine", "q35", "-accel", "tcg", "-S",
                        "-display", "none", "-nodefaults", "-qmp", "stdio",
                        "-smp", str(smp), "-msg", "timestamp=on",
                        "-trace", "vcpu_thread_create",
                        "-trace", "vcpu_affinity_set", "-D", log,
                        "-object", "vcpu-affinity,id=dflt,host-cpus=%d"
                        % cpus[0]],
                       input=QUIT, stdout=subprocess.DEVNULL, check=True)
        created, delays = [], []
        with open(log) as f:
            for line in f:
                m = re.match(r"\d+@(\d+\.\d+):(\w+) (.*)", line)
                if not m:
                    continue
                ts = float(m.group(1))
                if m.group(2) == "vcpu_thread_create":
                    created.append(ts)
                elif m.group(2) == "vcpu_affinity_set" and created:
                    delays.append(ts - created.pop(0))
    if not delays:
        return {"error": "no trace events (trace backend?)"}
    return {"vcpus": smp, "median-us": round(statistics.median(delays) * 1e6),
            "max-us": round(max(delays) * 1e6)}


def guest_boot(build, assets_env, arch, topo_file, runs, tables=False):
    ng = numaguest
    assets = ng.load_assets(assets_env)
    args = argparse.Namespace(arch=arch, build=build, extra_args="",
                              timeout=600)
    topo = ng.Topology(topo_file)
    times, got = [], None
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            _, out, rc, secs = ng.boot(args, topo, assets, d)
            got = ng.parse_guest(out)
            if "end" not in got:
                sys.exit("bench: guest %s %s did not finish" %
                         (arch, topo_file))
            times.append(secs)
    return statistics.median(times), got


def write_topology(path, nodes, devs, gi, hmat):
    """
    The guest's view of the maximal topology.  Two differences from the
    start-up figures: Linux 6.1 reserves 2 MiB of vmalloc space per
    possible node for BPF programs (bpf_prog_pack) and panics at boot when
    that exceeds its memory, so node 0 has 1 GiB; and the devices sit on
    the root bus, because SeaBIOS runs out of I/O space for 16 root ports
    with pci-testdev's I/O BAR ("PCI: out of I/O address space").
    """
    t = {"description": "bench", "nodes": [
        {"id": 0, "cpus": "0-1", "memory-mb": 1024}] +
        [{"id": n} for n in range(1, nodes)],
        "devices": [{"id": "dev%d" % d,
                     "nodes": [n for n in range(1, nodes)
                               if gi and (n - 1) % devs == d]}
                    for d in range(devs)],
        "hmat-lb": [{"initiator": i, "target": 0, "latency-ns": 10 + i,
                     "bandwidth-mbs": 20000 - i}
                    for i in (range(nodes) if gi else [0])] if hmat else []}
    with open(path, "w") as f:
        json.dump(t, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--assets")
    ap.add_argument("--out")
    ap.add_argument("--tiny", action="store_true",
                    help="smallest sizes, one run: check that it works")
    ap.add_argument("--upstream", metavar="DIR",
                    help="also figures 1 and 1b on the QEMU that "
                    "mk/assets.sh upstream unpacked in DIR")
    ap.add_argument("--figure", choices=["4"],
                    help="only this figure, printed (no --assets, --out)")
    a = ap.parse_args()
    if a.figure:
        for r in fig_repin_all(a.build, a.tiny):
            print(repin_line(r), flush=True)
        for r in fig_floor_all(a.tiny):
            print(floor_line(r), flush=True)
        return 0
    if not a.assets or not a.out:
        ap.error("--assets and --out are needed for every figure")
    x86 = os.path.join(a.build, "qemu-system-x86_64")
    nodes, devs = (4, 2) if a.tiny else (128, 16)
    runs = 1 if a.tiny else 3
    res = {"machine": machine(), "nodes": nodes, "devices": devs,
           "gi-objects": nodes - 1}
    print("bench: %s, %d CPUs, %s MiB, %s" % (
        res["machine"]["cpu"], res["machine"]["cpus"],
        res["machine"]["memory-mib"], res["machine"]["date"]), flush=True)

    res["instructions"] = fig_instructions(Qemu(x86), nodes, devs, runs,
                                           None)
    res["instructions-hmat-node0"] = fig_instructions(Qemu(x86), nodes, devs,
                                                      runs, "node0")
    res["instructions-hmat"] = fig_instructions(Qemu(x86), nodes, devs, runs,
                                                "full")
    if a.upstream:
        # figures 1 and 1b on Debian 13's QEMU 10.0, same command lines
        up = Qemu(x86, a.upstream)
        res["upstream"] = {
            "version": subprocess.run(
                up.cmd(["--version"]), env=up.env, check=True,
                stdout=subprocess.PIPE).stdout.decode().splitlines()[0],
            "instructions": fig_instructions(up, nodes, devs, runs, None),
            "instructions-hmat-node0": fig_instructions(up, nodes, devs,
                                                        runs, "node0")}
    res["wall"] = fig_wall(x86, nodes, devs, 3 if a.tiny else 11)
    res["repin"] = fig_repin_all(a.build, a.tiny)
    res["repin-floor"] = fig_floor_all(a.tiny)
    res["creation"] = fig_creation(a.build, 2 if a.tiny else 8)
    res["memory"] = fig_memory(a.build, nodes, devs, 1 if a.tiny else 5)

    with tempfile.TemporaryDirectory() as d:
        big = os.path.join(d, "max.json")
        write_topology(big, nodes, devs, True, True)
        _, g = guest_boot(a.build, a.assets, "x86_64", big, 1)
        ninit = nodes
        srat, hmat = len(g["tables"].get("SRAT", b"")), \
            len(g["tables"].get("HMAT", b""))
        gi_bytes = 32 * (nodes - 1)
        # HMAT: header 40; one 40-byte memory domain structure (node 0);
        # two locality structures of 32 + 4 per initiator + 4 per target
        # + 2 per entry (targets: the nodes with memory, node 0)
        ntarget = 1
        hmat_formula = 40 + 40 + 2 * (32 + 4 * ninit + 4 * ntarget +
                                      2 * ninit * ntarget)
        res["tables"] = {"srat-bytes": srat, "srat-gi-bytes": gi_bytes,
                         "hmat-bytes": hmat, "hmat-formula": hmat_formula,
                         "guest-nodes-online": g.get("online"),
                         "guest-has-generic-initiator":
                         g.get("has_generic_initiator")}
        mig = os.path.join(TOP, "tests/guest/topologies/mig.json")
        plain = os.path.join(d, "plain.json")
        with open(mig) as f:
            t = json.load(f)
        for dev in t["devices"]:
            dev["nodes"] = []
        t["hmat-lb"] = [e for e in t["hmat-lb"] if e["initiator"] == 0]
        with open(plain, "w") as f:
            json.dump(t, f)
        res["guest-boot"] = {}
        # --tiny checks that the bench works: its Arm boots would only
        # repeat what the guest tests of make check do
        for arch in ("x86_64",) if a.tiny else ("x86_64", "aarch64"):
            with_gi, _ = guest_boot(a.build, a.assets, arch, mig, runs)
            without, _ = guest_boot(a.build, a.assets, arch, plain, runs)
            res["guest-boot"][arch] = {"s-with-gi": round(with_gi, 2),
                                       "s-without": round(without, 2)}

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=2)
    i, w = res["instructions"], res["wall"]
    c, t, m = res["creation"], res["tables"], res["memory"]
    i1, h = res["instructions-hmat-node0"], res["instructions-hmat"]
    fig2 = ("none %d, GI %d, secret %d\n"
            "    GI cost / trivial-object cost                 %.2f"
            % (h["none"], h["gi"], h["secret"], h["ratio"]))
    fig4 = "\n".join([repin_line(r) for r in res["repin"]] +
                     [floor_line(r) for r in res["repin-floor"]])
    fig_up = ""
    if "upstream" in res:
        u, u1 = (res["upstream"]["instructions"],
                 res["upstream"]["instructions-hmat-node0"])
        fig_up = ("    upstream (%s), the same command lines:\n"
                  "  1 upstream                                    "
                  "none %d, GI %d, secret %d\n"
                  "    GI cost / trivial-object cost                 %.2f\n"
                  " 1b upstream                                    "
                  "none %d, GI %d, secret %d\n"
                  "    GI cost / trivial-object cost                 %.2f\n"
                  % (res["upstream"]["version"], u["none"], u["gi"],
                     u["secret"], u["ratio"], u1["none"], u1["gi"],
                     u1["secret"], u1["ratio"]))
    boot = res["guest-boot"]
    fig5 = "x86: %.2f s with GI, %.2f s without" % (
        boot["x86_64"]["s-with-gi"], boot["x86_64"]["s-without"])
    if "aarch64" in boot:
        fig5 += "; Arm: %.2f s / %.2f s" % (boot["aarch64"]["s-with-gi"],
                                           boot["aarch64"]["s-without"])
    print("""
  figure                                          value
  1 main-thread instructions, %3d nodes %2d dev.  none %d, GI %d, secret %d
    GI cost / trivial-object cost                 %.2f  (goal <= 1.2)
 1b the same with hmat=on, node 0's rows          none %d, GI %d, secret %d
    GI cost / trivial-object cost                 %.2f  (goal <= 1.1)
%s  2 full HMAT (GI: a row per initiator)           %s
    SRAT %d bytes (GI structures %d = 32 x %d); HMAT %d bytes (formula %d)
  3 wall-clock start-up, median of %d pairs       none %.1f ms, GI %.1f ms, ratio %.3f
  4 qom-set re-pinning every vCPU (Arm virt; goal at 512: < 2 ms beyond;
    "vcpus" rule: one naming every vCPU; "default": the emulator threads too;
    "emulator": an emulator-affinity rule, the emulator threads alone)
%s
    vCPU thread created -> affinity in place      median %s us, max %s us (%s vCPUs)
  5 guest boot, TCG, MIG topology                 %s
  6 resident memory per generic initiator         %d bytes (%d objects: %d KiB, none %d KiB)
    resident memory per vcpu-affinity rule        %d bytes (%d rules: %d KiB, none %d KiB)
""" % (nodes, devs, i["none"], i["gi"], i["secret"], i["ratio"],
       i1["none"], i1["gi"], i1["secret"], i1["ratio"], fig_up, fig2,
       t["srat-bytes"], t["srat-gi-bytes"], nodes - 1, t["hmat-bytes"],
       t["hmat-formula"], 3 if a.tiny else 11, w["median-ms-none"],
       w["median-ms-gi"], w["median-ratio"], fig4,
       c.get("median-us"), c.get("max-us"), c.get("vcpus"), fig5,
       m["bytes-per-gi"], m["gi-objects"], m["kib-gi"], m["kib-none"],
       m["bytes-per-rule"], m["rules"], m["kib-rules"], m["kib-no-rules"]))
    print("bench: figures in %s" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
