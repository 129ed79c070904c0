# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot the guest tests' Linux guest under TCG and collect its console.

The part of tests/guest/numa-guest.py that does not depend on a topology
file, for the tools that boot the same guest with other QEMU arguments
(tests/host-topology/capture.py):

  load_assets(path)    the KEY=VALUE lines of the assets.env that
                       `make guest-assets` writes (kernels, initramfs, Arm
                       firmware)
  command(...)         the QEMU command line: x86 q35 with SeaBIOS and a
                       direct kernel boot, or Arm virt with AAVMF (UEFI,
                       ACPI) and -cpu cortex-a57; the machine and topology
                       arguments are the caller's
  boot(...)            run it, with a timeout; the console output (the
                       "@@" lines of tests/guest/init) is returned and kept
                       in WORKDIR/console.log
  boot(..., stalls=[])  a guest whose kernel reports a stall (RCU, hung
                       task, soft lockup) is stopped at once, with what its
                       vCPUs were doing; with a list, the first stall is
                       forgiven: the guest boots once more, and the list
                       says what stalled
  boot(..., migrate=True)
                       the same, but the guest is stopped once /init has
                       printed its first line, migrated to a second QEMU
                       started with -incoming, and continued there: the
                       console output is the source's, then the
                       destination's
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def qmp_command(mon, name, **args):
    """Run QMP command NAME on a qemu.qmp.legacy monitor, for its return
    value: QEMU 10.0's library calls that cmd() (and the old cmd()
    cmd_raw()), QEMU 7.2's command()"""
    if hasattr(mon, "cmd_raw"):
        return mon.cmd(name, **args)
    return mon.command(name, **args)


def load_assets(path):
    """The KEY=VALUE lines of the assets.env of `make guest-assets`"""
    assets = {}
    with open(path) as f:
        for line in f:
            k, sep, v = line.strip().partition("=")
            if sep and not k.startswith("#"):
                assets[k] = v
    return assets


def command(build, arch, assets, workdir, machine_args, extra_args=(),
            append=""):
    """The QEMU command line booting the guest with MACHINE_ARGS (-machine,
    -smp, -m, -numa, -object, -device...), then EXTRA_ARGS, and APPEND
    added to the kernel command line"""
    qemu = os.path.join(build, "qemu-system-" + arch)
    cmd = [qemu, "-accel", "tcg", "-display", "none", "-monitor", "none",
           "-serial", "stdio", "-no-reboot"]
    if arch == "x86_64":
        cmd += ["-vga", "none"]
        console = "ttyS0"
    else:
        vars_copy = os.path.join(workdir, "AAVMF_VARS.fd")
        shutil.copyfile(assets["VARS_aarch64"], vars_copy)
        cmd += ["-cpu", "cortex-a57",
                "-drive", "if=pflash,format=raw,readonly=on,file="
                + assets["FIRMWARE_aarch64"],
                "-drive", "if=pflash,format=raw,file=" + vars_copy]
        console = "ttyAMA0"
    cmd += list(machine_args)
    cmd += list(extra_args)
    kernel_args = "console=%s quiet panic=-1" % console
    if append:
        kernel_args += " " + append
    cmd += ["-kernel", assets["KERNEL_" + arch],
            "-initrd", assets["INITRD_" + arch], "-append", kernel_args]
    return cmd


# What a guest kernel prints once part of it has made no progress for
# 21 s or more (its RCU stall detector, hung-task and soft-lockup
# watchdogs).  The guest is stopped there, not at the timeout, and what
# its vCPUs were doing is kept (vcpu_state).
STALL = re.compile(r"rcu: INFO: rcu_\w+ (?:self-)?detected stalls?"
                   r"|INFO: task \S+ blocked for more than"
                   r"|watchdog: BUG: soft lockup")


# How a test says, in its output, that a stall was forgiven
STALL_NOTE = "stall forgiven, booted again: "


class Stalled(str):
    """QEMU's "exit status" when the guest stalled and was stopped: what
    its console said, and the vCPUs' state (lines)"""

    def __new__(cls, text, vcpus=(), kept=""):
        s = super().__new__(cls, text)
        s.vcpus, s.kept = list(vcpus), kept
        return s

    def report(self):
        """Its lines for a test's log"""
        return "\n".join([str(self) + (" (kept: %s)" % self.kept
                                        if self.kept else "")] +
                          ["  " + v for v in self.vcpus])


def describe(rc):
    """An exit status as a test prints it: a Stalled with its vCPUs"""
    return rc.report() if isinstance(rc, Stalled) else str(rc)


def hmp_client(sock):
    """A function running one HMP command through the QMP socket SOCK,
    where QEMU listens, for its output"""
    def hmp(command):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(20)
            s.connect(sock)
            f = s.makefile("rw")
            f.readline()        # the greeting
            for c in ({"execute": "qmp_capabilities"},
                      {"execute": "human-monitor-command",
                       "arguments": {"command-line": command}}):
                f.write(json.dumps(c) + "\n")
                f.flush()
                while True:
                    r = json.loads(f.readline())
                    if "return" in r or "error" in r:
                        break
            return r.get("return", str(r.get("error")))
    return hmp


def cpu_blocks(regs):
    """(vCPU index, its part) of each vCPU in `info registers -a`"""
    return [(int(m.group(1)), m.group(2)) for m in re.finditer(
        r"^CPU#(\d+)\s*\n(.*?)(?=^CPU#|\Z)", regs, re.M | re.S)]


def vcpu_state(hmp):
    """What the vCPUs are doing, from HMP (a function): a line per vCPU
    (x86: halted or not, its local APIC timer's mode, the vectors in
    service and pending, the processor priority; Arm: the PC), and every
    dump read, as one text"""
    regs = hmp("info registers -a")
    dumps, lines = ["== info registers -a", regs], []
    for n, block in cpu_blocks(regs):
        hlt = re.search(r"\bHLT=(\d)", block)
        if not hlt:
            pc = re.search(r"\bPC=([0-9a-f]+)", block)
            lines.append("vCPU %d: PC %s" % (n, pc.group(1) if pc else "?"))
            continue
        lapic = hmp("info lapic %d" % n)
        dumps += ["== info lapic %d" % n, lapic]

        def field(pattern):
            f = re.search(pattern, lapic, re.M)
            return f.group(1).strip() if f else "?"
        lines.append("vCPU %d: %s; APIC timer %s, in service: %s, pending: "
                     "%s, PPR %s" % (
                         n, "halted" if hlt.group(1) == "1" else "running",
                         field(r"^LVTT\s.*?(one-shot|periodic|tsc-deadline)"),
                         field(r"^ISR\s+(.*)$") or "none",
                         field(r"^IRR\s+(.*)$") or "none",
                         field(r"\bPPR (0x[0-9a-f]+)")))
    return lines, "\n".join(dumps)


def stalled(line, secs, hmp, workdir):
    """The Stalled status of a guest whose console printed LINE after SECS
    seconds; the dumps go to WORKDIR/stall.txt"""
    try:
        vcpus, dumps = vcpu_state(hmp)
    except (OSError, ValueError, KeyError) as e:
        vcpus, dumps = ["(no vCPU state: %s)" % e], ""
    path = os.path.join(workdir, "stall.txt")
    with open(path, "w") as f:
        f.write(dumps)
    return Stalled("guest stalled after %.0f s: %s" % (secs, line.strip()),
                   vcpus, path)


def new_output(buf):
    """A function returning what was added to BUF (a bytearray another
    thread fills) since its last call, as text"""
    seen = [0]

    def new():
        data = bytes(buf[seen[0]:])
        seen[0] += len(data)
        return data.decode("utf-8", "replace")
    return new


def new_lines(path):
    """The same for the file PATH (a console log QEMU writes)"""
    seen = [0]

    def new():
        try:
            with open(path, "rb") as f:
                f.seek(seen[0])
                data = f.read()
        except FileNotFoundError:
            return ""
        seen[0] += len(data)
        return data.decode("utf-8", "replace")
    return new


def stall_line(new, tail):
    """(the console line that says the guest stalled or None, the last
    line so far, unfinished): NEW() is the console's new text, TAIL what
    the last call returned second"""
    text = tail + new()
    m = STALL.search(text)
    if m:
        start = text.rfind("\n", 0, m.start()) + 1
        return text[start:].split("\n")[0], ""
    return None, text[text.rfind("\n") + 1:]


def stuck_vcpus(hmp):
    """The x86 vCPUs (HMP through HMP, a function) that are halted with an
    interrupt in service, as "vCPU N (vector V)": Linux never halts in an
    interrupt handler, so that interrupt was taken and never acknowledged
    (end of interrupt), and the vCPU takes no interrupt of its priority
    again.  A guest can sit there without printing anything: when the
    vCPU is the one that keeps time, its watchdogs do not run either."""
    regs = hmp("info registers -a")
    stuck = []
    for n, block in cpu_blocks(regs):
        if not re.search(r"\bHLT=1\b", block):
            continue
        isr = re.search(r"^ISR\s+(.*)$", hmp("info lapic %d" % n), re.M)
        if isr and isr.group(1).strip() not in ("", "(none)"):
            stuck.append("vCPU %d (vector %s)" % (n, isr.group(1).strip()))
    return stuck


class StuckProbe:
    """Called often: asks stuck_vcpus() through HMP (a function) every
    EVERY seconds, and returns what to report once it named the same
    vCPUs TIMES times in a row (else None)"""
    EVERY = 5
    TIMES = 3

    def __init__(self, hmp):
        self.hmp, self.last, self.seen = hmp, time.monotonic(), []

    def __call__(self):
        now = time.monotonic()
        if now - self.last < self.EVERY:
            return None
        self.last = now
        try:
            stuck = stuck_vcpus(self.hmp)
        except Exception:   # noqa: QMP not up yet, or QEMU exiting
            stuck = []
        self.seen = (self.seen + [stuck])[-self.TIMES:]
        if not stuck or self.seen.count(stuck) < self.TIMES:
            return None
        return ("%s halted for %d s with an interrupt in service, never "
                "acknowledged" % (", ".join(stuck),
                                  self.EVERY * (self.TIMES - 1)))


def watch(p, new, timeout, start, on_stall, hmp=None):
    """Wait for process P, whose console NEW() returns bit by bit (see
    new_output()): its exit status, "timeout after N s" (P killed), or, if
    the guest stalls, ON_STALL(what says so, seconds) (P killed).  The
    guest stalls when its kernel says so on the console or, with HMP (a
    function), when StuckProbe finds vCPUs stuck."""
    tail, probe = "", StuckProbe(hmp) if hmp else (lambda: None)
    while True:
        try:
            return p.wait(0.5)
        except subprocess.TimeoutExpired:
            pass
        secs = time.monotonic() - start
        if secs > timeout:
            rc = "timeout after %d s" % timeout
        else:
            line, tail = stall_line(new, tail)
            if line is None:
                line = probe()
            if line is None:
                continue
            rc = on_stall(line, secs)
        p.kill()
        p.wait()
        return rc


def forgive(stalls, workdir, attempt):
    """Run ATTEMPT() (console output, exit status, seconds); with STALLS
    (a list), a first stall is forgiven: the console is kept as
    WORKDIR/console-stalled.log, the stall appended to STALLS, and
    ATTEMPT() runs once more"""
    out, rc, secs = attempt()
    if isinstance(rc, Stalled) and stalls is not None and not stalls:
        kept = os.path.join(workdir, "console-stalled.log")
        os.replace(os.path.join(workdir, "console.log"), kept)
        rc.kept = "%s, %s" % (kept, rc.kept)
        stalls.append(rc)
        out, rc, secs = attempt()
    return out, rc, secs


def run_once(cmd, workdir, timeout):
    """run() without forgiving a stall"""
    start = time.monotonic()
    # (a socket's path is short: not below WORKDIR, which may be long)
    sockdir = tempfile.mkdtemp(prefix="guest-qmp-")
    sock = os.path.join(sockdir, "qmp.sock")
    p = subprocess.Popen(cmd + ["-qmp", "unix:%s,server=on,wait=off" % sock],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    buf = bytearray()

    def read():
        for chunk in iter(lambda: p.stdout.read1(4096), b""):
            buf.extend(chunk)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    rc = watch(p, new_output(buf), timeout, start,
               lambda line, secs: stalled(line, secs, hmp_client(sock),
                                          workdir), hmp_client(sock))
    # (a child the command left may hold the console open)
    reader.join(10)
    shutil.rmtree(sockdir, ignore_errors=True)
    out = buf.decode("utf-8", "replace")
    with open(os.path.join(workdir, "console.log"), "w") as f:
        f.write(out)
    return out, rc, time.monotonic() - start


def run(cmd, workdir, timeout, stalls=None):
    """Run CMD, QEMU (or a command that runs it, taking its arguments
    last); (console output, QEMU's exit status, "timeout after N s" or a
    Stalled, seconds).  The output is also written to
    WORKDIR/console.log.  A guest that stalls is stopped at once; with
    STALLS (a list), a first stall is forgiven (forgive())."""
    return forgive(stalls, workdir,
                   lambda: run_once(cmd, workdir, timeout))


class Console:
    """A QEMU whose console (stdout) a thread collects, and its QMP
    monitor (the base's python/qemu/qmp library; QEMU connects to a socket
    this side listens on)"""

    def __init__(self, build, cmd, sock):
        sys.path.insert(0, os.path.join(os.path.dirname(build), "python"))
        from qemu.qmp.legacy import QEMUMonitorProtocol
        self.mon = QEMUMonitorProtocol(sock, server=True)
        self.sock = sock
        self.rc = None
        self.out = bytearray()
        self.p = subprocess.Popen(cmd + ["-qmp", "unix:" + sock],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.mon.accept(timeout=60)

    def _read(self):
        for chunk in iter(lambda: self.p.stdout.read1(4096), b""):
            self.out += chunk

    def text(self):
        return self.out.decode("utf-8", "replace")

    def cmd(self, name, **args):
        return qmp_command(self.mon, name, **args)

    def wait(self, timeout):
        """QEMU's exit status, "timeout after N s" or a Stalled (QEMU
        killed); a stall's dumps go beside the QMP socket"""
        def hmp(command):
            return self.cmd("human-monitor-command",
                            **{"command-line": command})
        if self.rc is not None:
            return self.rc
        self.rc = watch(self.p, new_output(self.out), timeout,
                        time.monotonic(),
                        lambda line, secs: stalled(
                            line, secs, hmp, os.path.dirname(self.sock)),
                        hmp)
        self.reader.join(10)
        try:
            self.mon.close()
        except EOFError:
            pass        # QEMU has quit: the monitor is closed already
        return self.rc


def run_migrating(build, src_cmd, dst_cmd, workdir, timeout):
    """Run SRC_CMD; once the guest's /init prints, stop it, migrate it to
    DST_CMD (-incoming) and continue it there.  (console output, exit
    status, seconds), as run() but for both."""
    start = time.monotonic()
    uri = "unix:" + os.path.join(workdir, "migration.sock")
    dst = Console(build, dst_cmd + ["-incoming", uri],
                  os.path.join(workdir, "qmp-dst.sock"))
    src = Console(build, src_cmd, os.path.join(workdir, "qmp-src.sock"))
    rc, note = None, ""
    try:
        while b"@@ begin" not in src.out:
            if src.p.poll() is not None or \
                    time.monotonic() - start > timeout:
                rc = "no /init output before migration"
                break
            if STALL.search(src.text()):
                rc = src.wait(timeout)      # a Stalled, QEMU stopped
                break
            time.sleep(0.05)
        if rc is None:
            src.cmd("stop")
            src.cmd("migrate", uri=uri)
            while src.cmd("query-migrate").get("status") not in (
                    "completed", "failed", "cancelled"):
                time.sleep(0.05)
            status = src.cmd("query-migrate")
            if status.get("status") != "completed":
                rc = "migration %s: %s" % (status.get("status"),
                                           status.get("error-desc", ""))
            else:
                note = "@@ migrated %d bytes in %d ms\n" % (
                    status["ram"]["transferred"], status["total-time"])
                src.cmd("quit")
                dst.cmd("cont")
    finally:
        if rc is not None:
            for q in (src, dst):
                q.p.kill()
        src.wait(timeout)
        dst_rc = dst.wait(max(1, timeout - (time.monotonic() - start)))
    out = src.text() + note + dst.text()
    if rc is None:
        rc = dst_rc
    with open(os.path.join(workdir, "console.log"), "w") as f:
        f.write(out)
    return out, rc, time.monotonic() - start


def boot(build, arch, assets, workdir, machine_args, extra_args=(),
         append="", timeout=600, migrate=False, stalls=None):
    """Boot the guest; (command line, console output, exit status,
    seconds).  MIGRATE: migrate it to a second QEMU once /init runs.
    STALLS: as for run()."""
    cmd = command(build, arch, assets, workdir, machine_args, extra_args,
                  append)
    if not migrate:
        out, rc, secs = run(cmd, workdir, timeout, stalls)
        return cmd, out, rc, secs
    dst_dir = os.path.join(workdir, "destination")
    os.makedirs(dst_dir, exist_ok=True)
    dst_cmd = command(build, arch, assets, dst_dir, machine_args,
                      extra_args, append)
    out, rc, secs = forgive(stalls, workdir, lambda: run_migrating(
        build, cmd, dst_cmd, workdir, timeout))
    return cmd, out, rc, secs
