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
  boot(..., migrate=True)
                       the same, but the guest is stopped once /init has
                       printed its first line, migrated to a second QEMU
                       started with -incoming, and continued there: the
                       console output is the source's, then the
                       destination's
"""

import os
import shutil
import subprocess
import sys
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


def run(cmd, workdir, timeout):
    """Run CMD; (console output, QEMU's exit status or "timeout after N s",
    seconds).  The output is also written to WORKDIR/console.log."""
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        out, rc = p.stdout.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        rc = "timeout after %d s" % timeout
    secs = time.monotonic() - start
    with open(os.path.join(workdir, "console.log"), "w") as f:
        f.write(out)
    return out, rc, secs


class Console:
    """A QEMU whose console (stdout) a thread collects, and its QMP
    monitor (the base's python/qemu/qmp library; QEMU connects to a socket
    this side listens on)"""

    def __init__(self, build, cmd, sock):
        sys.path.insert(0, os.path.join(os.path.dirname(build), "python"))
        from qemu.qmp.legacy import QEMUMonitorProtocol
        self.mon = QEMUMonitorProtocol(sock, server=True)
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
        """QEMU's exit status, or "timeout after N s" (QEMU killed)"""
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = "timeout after %d s" % timeout
        self.reader.join()
        try:
            self.mon.close()
        except EOFError:
            pass        # QEMU has quit: the monitor is closed already
        return rc


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
         append="", timeout=600, migrate=False):
    """Boot the guest; (command line, console output, exit status,
    seconds).  MIGRATE: migrate it to a second QEMU once /init runs."""
    cmd = command(build, arch, assets, workdir, machine_args, extra_args,
                  append)
    if not migrate:
        out, rc, secs = run(cmd, workdir, timeout)
        return cmd, out, rc, secs
    dst_dir = os.path.join(workdir, "destination")
    os.makedirs(dst_dir, exist_ok=True)
    dst_cmd = command(build, arch, assets, dst_dir, machine_args,
                      extra_args, append)
    out, rc, secs = run_migrating(build, cmd, dst_cmd, workdir, timeout)
    return cmd, out, rc, secs
