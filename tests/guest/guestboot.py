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
"""

import os
import shutil
import subprocess
import time

HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


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


def boot(build, arch, assets, workdir, machine_args, extra_args=(),
         append="", timeout=600):
    """Boot the guest; (command line, console output, exit status,
    seconds)"""
    cmd = command(build, arch, assets, workdir, machine_args, extra_args,
                  append)
    out, rc, secs = run(cmd, workdir, timeout)
    return cmd, out, rc, secs
