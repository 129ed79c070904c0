#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run our QEMU under Debian's libvirt and check what the guest sees.

Needs root.  Installs libvirt-daemon-system and python3-libvirt with
apt-get when they are missing (--install), then, in a private mount
namespace so that the host's libvirt configuration and state are never
touched:

  - starts virtlogd and libvirtd directly (no systemd), with QEMU run as
    root, no security driver, no cgroups, and their own /run, /var/lib,
    /var/cache and /var/log directories for libvirt, and talks to them
    through libvirt's Python bindings (no virsh);
  - probes our binaries for their domain capabilities (q35, virt) and
    checks that libvirt's capability cache has our package string;
  - checks that a vcpu-affinity object is refused, with a clear error,
    under the seccomp sandbox libvirt gives QEMU by default;
  - turns the sandbox off and starts a TCG domain made by
    scripts/gi-libvirt.py --domain from a guest topology: memory cells and
    HMAT in libvirt's XML, generic-initiator nodes, objects and HMAT rows
    in <qemu:commandline>, plus libvirt <cputune> and our vcpu-affinity and
    emulator-affinity objects.  Paused, before any guest code, it checks
    the QMP schema libvirt's QEMU offers, the generic initiator objects,
    and who placed each thread (libvirt pins after QEMU does, so libvirt
    wins); resumed, the guest harness (tests/guest/init) boots, and its
    view is checked like tests/guest/numa-guest.py does;
  - defines and starts the TCG domains that scripts/host-topology.py
    --format libvirt makes of fixtures of tests/data/host-topology (grace
    and others): each guest captures its sysfs (tests/guest/init in
    capture mode, on the serial console), and every fact of it must equal
    the fixture's (tests/host-topology/mirror.py);
  - stops every process it started, by pid.

Prints one line per check: "ok NAME", "FAIL NAME: DETAIL" or
"skip NAME: REASON"; exits 1 if any check failed.
"""

import argparse
import contextlib
import glob
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.dont_write_bytecode = True  # no __pycache__ beside the tools
for _d in ("scripts", "tests/guest", "tests/host-topology"):
    sys.path.insert(0, os.path.join(TOP, _d))
import capture  # noqa: E402
import guestboot  # noqa: E402
import mirror  # noqa: E402
import numaconfig  # noqa: E402
import numaguest  # noqa: E402
import numatopo  # noqa: E402
from numaconfig import QEMU_NS  # noqa: E402
from numatopo import format_list, parse_list  # noqa: E402

# libvirt's Python bindings (Debian's python3-libvirt) are built for, and
# installed in the dist-packages of, Debian's own interpreter: a C
# extension module (libvirtmod) of that interpreter's ABI.  Another python3
# first on the PATH (a pyenv build, another version) does not see them, and
# putting Debian's dist-packages on its path would load that extension into
# an interpreter it was not built for, along with every other Debian module
# there.  So when they do not import here, main() runs the test (it runs
# itself again anyway, in its mount namespace) under DEBIAN_PYTHON, where
# they do; before that, this process needs none of them.
DEBIAN_PYTHON = "/usr/bin/python3"
try:
    import libvirt
    import libvirt_qemu
except ImportError:
    libvirt = libvirt_qemu = None

URI = "qemu:///system"
# libvirt's version (major, minor, micro), once connected
LIBVIRT_VERSION = (0, 0, 0)
# from this version libvirt writes generic initiators itself: <cell
# memory='0'> and <hostdev><acpi nodeset> (check_native)
NATIVE = (11, 8, 0)
# up to this version libvirt re-pins a vCPU thread without <vcpupin> to
# every host CPU once QEMU has started (seen on 9.0 and 11.3); 12.9 leaves
# it where QEMU put it.  Versions between were not tried.
REPINS_ALL = (11, 3, 99)
# the test needs no virsh (libvirt-clients): everything it did with virsh
# has a call in the bindings.  The check names still say 'virsh define
# --validate' and so on: the command of docs/system/libvirt.rst that makes
# the same call.
PACKAGES = ["libvirt-daemon-system", "python3-libvirt"]
PRIVATE_DIRS = ["/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt",
                "/var/log/libvirt"]
MACHINE = {"x86_64": "q35", "aarch64": "virt"}
GI_LIBVIRT = os.path.join(TOP, "scripts", "gi-libvirt.py")
# the fixtures of tests/data/host-topology mirrored through libvirt: a GPU
# host (generic initiator nodes, all HMAT in <qemu:commandline>), a
# 2-socket host with CXL memory (<interconnects>, a pcie-expander-bus) and
# an Arm virt host (UEFI; distances libvirt leaves to us)
MIRRORED = ("grace", "cxl2s", "armvirt", "pcie2hb")


class Results:
    def __init__(self):
        self.failed = 0
        self.stalls = []

    def ok(self, name):
        print("ok %s" % name, flush=True)

    @staticmethod
    def one_line(text):
        """Continuation lines indented: only the first line is a result"""
        return str(text).strip().replace("\n", "\n    ")

    def fail(self, name, detail):
        self.failed += 1
        print("FAIL %s: %s" % (name, self.one_line(detail)), flush=True)

    def skip(self, name, reason):
        print("skip %s: %s" % (name, self.one_line(reason)), flush=True)

    def forgive(self, name, stall):
        """Whether to boot NAME's guest again after its first STALL (a
        guestboot.Stalled): once per run, as guestboot.forgive() does;
        make check counts the "flaky" line among the passed"""
        if self.stalls:
            return False
        self.stalls.append(stall)
        print("flaky %s (its guest stalled, and was booted again)\n    %s"
              % (name, self.one_line(stall.report())), flush=True)
        return True

    def check(self, cond, name, detail=""):
        if cond:
            self.ok(name)
        else:
            self.fail(name, detail)
        return cond


def run(cmd, timeout=120, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout,
                          universal_newlines=True, **kw)


# libvirt -----------------------------------------------------------------

def bounded(timeout, fn, *args):
    """fn(*args), waited for at most @timeout seconds.  A libvirt call
    has no timeout of its own (virsh ran under subprocess's): past it,
    TimeoutError, and the call, left in its thread, fails once the daemons
    are stopped"""
    out = {}

    def call():
        try:
            out["value"] = fn(*args)
        except BaseException as e:
            out["error"] = e
    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError("%s: no answer from libvirt after %d s"
                           % (getattr(fn, "__name__", fn), timeout))
    if "error" in out:
        raise out["error"]
    return out.get("value")


def attempt(timeout, fn, *args):
    """(fn(*args), None), or (None, why) if libvirt refused or did not
    answer in time"""
    try:
        return bounded(timeout, fn, *args), None
    except (libvirt.libvirtError, TimeoutError) as e:
        return None, str(e)


def destroy(dom):
    """Stop DOM if it runs (nothing if it has stopped, or is gone)"""
    attempt(60, dom.destroy)


def qmp(dom, command, arguments=None):
    """A QMP command through libvirt's monitor of DOM (libvirt-qemu)"""
    cmd = {"execute": command}
    if arguments is not None:
        cmd["arguments"] = arguments
    reply = json.loads(bounded(120, libvirt_qemu.qemuMonitorCommand, dom,
                               json.dumps(cmd), 0))
    if "return" not in reply:
        raise RuntimeError("%s: %s" % (command, reply.get("error", reply)))
    return reply["return"]


def bindings_python():
    """The interpreter in which the bindings import: this one, else
    DEBIAN_PYTHON's (see there); None if neither"""
    if libvirt is not None:
        return sys.executable
    if os.path.exists(DEBIAN_PYTHON) and subprocess.run(
            [DEBIAN_PYTHON, "-c", "import libvirt, libvirt_qemu"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode == 0:
        return DEBIAN_PYTHON
    return None


# Setup -------------------------------------------------------------------

def missing_tools():
    tools = [t for t in ("libvirtd", "virtlogd") if not shutil.which(t)]
    if bindings_python() is None:
        tools.append("python3-libvirt")
    return tools


def install():
    """apt-get install the packages; services are not started (a
    policy-rc.d that refuses, only while apt-get runs, if there is none)"""
    policy = "/usr/sbin/policy-rc.d"
    ours = not os.path.exists(policy)
    if ours:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\n# libvirt-test.py: no service starts\n"
                    "exit 101\n")
        os.chmod(policy, 0o755)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        p = run(["apt-get", "install", "-y", "--no-install-recommends"] +
                PACKAGES, timeout=1800, env=env)
        return p.returncode == 0, p.stdout
    finally:
        if ours:
            os.unlink(policy)


def private_libvirt(work):
    """A private /etc/libvirt with only what the test needs (nothing of the
    host's: no domains, networks or pools to autostart, no hooks, no
    secrets) and empty state directories"""
    etc = os.path.join(work, "etc")
    os.makedirs(os.path.join(etc, "qemu"))
    with open(os.path.join(etc, "libvirtd.conf"), "w") as f:
        f.write('# libvirt-test.py\nauth_unix_rw = "none"\n'
                'auth_unix_ro = "none"\n'
                'log_outputs = "3:file:%s/libvirtd.log"\n' % work)
    with open(os.path.join(etc, "virtlogd.conf"), "w") as f:
        f.write("# libvirt-test.py: the defaults\n")
    write_qemu_conf(work, sandbox=None)
    subprocess.check_call(["mount", "--bind", etc, "/etc/libvirt"])
    for d in PRIVATE_DIRS:
        os.makedirs(d, exist_ok=True)
        subprocess.check_call(["mount", "-t", "tmpfs", "libvirt-test", d])


def write_qemu_conf(work, sandbox):
    """QEMU runs as root, unconfined, without cgroups or a /dev namespace
    (none of which a chroot or container reliably offers); the seccomp
    sandbox is libvirt's default unless @sandbox is given"""
    with open(os.path.join(work, "etc/qemu.conf"), "w") as f:
        f.write('# libvirt-test.py\nuser = "root"\ngroup = "root"\n'
                'dynamic_ownership = 0\nremember_owner = 0\n'
                'security_driver = "none"\ncgroup_controllers = [ ]\n'
                'namespaces = [ ]\n')
        if sandbox is not None:
            f.write("seccomp_sandbox = %d\n" % sandbox)


def destroy_all():
    """Stop every running domain, on a connection of its own"""
    conn = libvirt.open(URI)
    try:
        for dom in conn.listAllDomains(
                libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            try:
                dom.destroy()
            except libvirt.libvirtError:
                pass
    finally:
        conn.close()


class Daemons:
    def __init__(self, work):
        self.work = work
        self.pids = {}

    SOCKETS = {"libvirtd": "/run/libvirt/libvirt-sock",
               "virtlogd": "/run/libvirt/virtlogd-sock"}

    def start(self, name):
        pidfile = os.path.join(self.work, name + ".pid")
        sock = self.SOCKETS[name]
        for stale in (pidfile, sock):
            if os.path.exists(stale):
                os.unlink(stale)
        subprocess.check_call([name, "--daemon", "--pid-file", pidfile])
        for _ in range(100):
            if os.path.exists(pidfile) and open(pidfile).read().strip():
                break
            time.sleep(0.1)
        self.pids[name] = int(open(pidfile).read())
        for _ in range(100):
            if os.path.exists(sock):
                return
            time.sleep(0.1)
        raise RuntimeError("%s started (pid %d) but made no %s"
                           % (name, self.pids[name], sock))

    def stop(self, name):
        pid = self.pids.pop(name, None)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def stop_all(self):
        """Every domain left running, then the daemons; libvirtd leaves
        its QEMUs running when it exits, so any left are killed by pid"""
        if "libvirtd" in self.pids:
            try:
                bounded(60, destroy_all)
            except (libvirt.libvirtError, TimeoutError):
                pass
        qemus = []
        for f in glob.glob("/run/libvirt/qemu/*.pid"):
            try:
                qemus.append(int(open(f).read()))
            except (OSError, ValueError):
                pass
        for name in ("libvirtd", "virtlogd"):
            self.stop(name)
        for pid in qemus:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# Checks ------------------------------------------------------------------

def package_string(binary):
    """What --version prints in parentheses: the series and its base"""
    m = re.search(r"version [0-9.]+ \(([^)]*)\)",
                  run([binary, "--version"]).stdout)
    return m.group(1) if m else None


def major_minor(binary):
    """The QEMU version of @binary as its versioned machine types end:
    "7.2", "10.0" """
    m = re.search(r"version ([0-9]+)\.([0-9]+)",
                  run([binary, "--version"]).stdout)
    return "%s.%s" % m.groups() if m else None


def cached_capabilities(binary):
    """The files of libvirt's capability cache, and the root element of
    the one for @binary (None if none)"""
    files = [os.path.join(d, f) for d, _, fs in
             os.walk("/var/cache/libvirt/qemu/capabilities") for f in fs]
    for path in files:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError):
            continue
        if root.findtext("emulator") == binary:
            return files, root
    return files, None


def check_domcapabilities(r, conn, build, arch):
    binary = os.path.join(build, "qemu-system-" + arch)
    name = "%s: virsh domcapabilities --machine %s" % (arch, MACHINE[arch])
    caps, err = attempt(120, conn.getDomainCapabilities, binary, arch,
                        MACHINE[arch], "qemu", 0)
    if not r.check(caps is not None, name, (err or "")[-400:]):
        return
    machine = ET.fromstring(caps).findtext("machine")
    version = major_minor(binary)
    r.check(machine and version and machine.endswith("-" + version),
            "%s: libvirt resolved machine %s to %s"
            % (arch, MACHINE[arch], machine or "?"),
            machine or "no <machine>")
    package = package_string(binary)
    files, cached = cached_capabilities(binary)
    r.check(package and cached is not None and
            cached.findtext("package") == package,
            "%s: libvirt's capability cache has our package string %r"
            % (arch, package), "cache files: %s; <package> %r" % (
                files, cached.findtext("package") if cached is not None
                else None))


def save(work, name, text):
    """Write @text to @work/@name (kept with --keep); return the path"""
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def domain_xml(args, arch, topo_path, console_log, extra):
    """The test domain of @topo_path, as scripts/gi-libvirt.py --domain
    prints it, changed by @extra(root element)"""
    cmd = [sys.executable, GI_LIBVIRT, "--topology", topo_path,
           "--arch", arch, "--domain", "--name", "numa-gi-%s" % arch,
           "--emulator", os.path.join(args.build, "qemu-system-" + arch),
           "--kernel", args.assets["KERNEL_" + arch],
           "--initrd", args.assets["INITRD_" + arch]]
    if arch == "aarch64":
        cmd += ["--loader", args.assets["FIRMWARE_aarch64"],
                "--nvram-template", args.assets["VARS_aarch64"]]
    if console_log:
        cmd += ["--console-log", console_log]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    if p.returncode:
        raise RuntimeError("scripts/gi-libvirt.py failed (%d): %s\n%s"
                           % (p.returncode, " ".join(cmd), p.stderr))
    root = ET.fromstring(p.stdout)
    extra(root)
    return ET.tostring(root, encoding="unicode")


def generic_initiators(topo_path):
    """(alias, node) of every acpi-generic-initiator object of the domain:
    gi-libvirt.py --domain gives topology device ID the user alias
    'ua-ID'"""
    return [("ua-" + d["id"], n)
            for d in numaconfig.Topology(topo_path).devices
            for n in d["nodes"]]


def add_affinity(root, host_cpus, emulatorpin):
    """libvirt pins vCPU 0 to the last host CPU and the emulator to
    @emulatorpin; our objects put every vCPU and the emulator on the
    first"""
    first, last = host_cpus[0], host_cpus[-1]
    cputune = ET.SubElement(root, "cputune")
    ET.SubElement(cputune, "vcpupin", vcpu="0", cpuset=str(last))
    ET.SubElement(cputune, "emulatorpin", cpuset=emulatorpin)
    cl = root.find("{%s}commandline" % QEMU_NS)
    for obj in ({"qom-type": "vcpu-affinity", "id": "va-default",
                 "host-cpus": [first]},
                {"qom-type": "emulator-affinity", "id": "ea",
                 "host-cpus": [first]}):
        for v in ("-object", json.dumps(obj, separators=(",", ":"))):
            ET.SubElement(cl, "{%s}arg" % QEMU_NS, value=v)


def host_cpus():
    return sorted(os.sched_getaffinity(0))


def online_cpus():
    """What libvirt gives a thread it has no set for"""
    with open("/sys/devices/system/cpu/online") as f:
        return parse_list(f.read().strip())


def thread_cpus(pid, tid):
    with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
        m = re.search(r"^Cpus_allowed_list:\s*(\S+)", f.read(), re.M)
    return parse_list(m.group(1))


def qemu_pid(dom):
    with open("/run/libvirt/qemu/%s.pid" % dom.name()) as f:
        return int(f.read())


def domain_log(name):
    """QEMU's log of domain @name as libvirt keeps it (command lines and
    stderr)"""
    try:
        with open("/var/log/libvirt/qemu/%s.log" % name) as f:
            return f.read()
    except OSError:
        return ""


def qemu_said(name, lines=6):
    """The last LINES lines that QEMU of domain @name wrote itself (its
    stderr, e.g. an assertion) and libvirt's closing line, from the
    domain's log, without the command line; "" when there are none"""
    text = domain_log(name).rsplit("starting up", 1)[-1]
    said, continued = [], True
    for line in text.splitlines()[1:]:
        if continued:
            continued = line.endswith("\\")
            continue
        said.append(line)
    return "\n".join(said[-lines:])


def guest_died(out, name):
    """The detail of a guest whose console OUT lacks its end: the
    console's last lines, and QEMU's own last words if it said any"""
    detail = "last lines:\n" + "\n".join(out.splitlines()[-15:])
    said = qemu_said(name)
    if said:
        detail += "\nQEMU's log (%s.log) ends:\n%s" % (name, said)
    return detail


def create_paused(conn, xml, name):
    """Start the transient domain @xml (named @name) paused: (the domain,
    None), or (None, why): libvirt's error and what QEMU logged meanwhile.
    libvirt's error normally quotes QEMU's; when QEMU exits before libvirt
    reads it ("qemu unexpectedly closed the monitor"), only QEMU's log
    has it"""
    logged = len(domain_log(name))
    dom, err = attempt(300, conn.createXML, xml,
                       libvirt.VIR_DOMAIN_START_PAUSED)
    if dom is not None:
        return dom, None
    return None, err + "\n" + domain_log(name)[logged:]


def check_example(r, conn, args, work):
    """docs/system/libvirt-gpu-mig.xml is valid for libvirt (schema and
    post-parse checks), with our binary and TCG in place of KVM"""
    root = ET.parse(os.path.join(TOP, "docs/system/libvirt-gpu-mig.xml")) \
        .getroot()
    root.set("type", "qemu")
    root.find("devices/emulator").text = os.path.join(args.build,
                                                      "qemu-system-x86_64")
    cpu = root.find("cpu")
    if cpu.get("mode") == "host-passthrough":
        del cpu.attrib["mode"]
    xml = ET.tostring(root, encoding="unicode")
    save(work, "libvirt-gpu-mig.xml", xml)
    dom, err = attempt(120, conn.defineXMLFlags, xml,
                       libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    if r.check(dom is not None, "docs/system/libvirt-gpu-mig.xml: virsh "
               "define --validate accepts it", (err or "").strip()):
        attempt(60, dom.undefine)


def check_limits(r, conn, args, work, topo):
    """What libvirt 9.0 does that the recipe works around; with libvirt
    >= 11.8 a <cell memory='0'> is a node without memory instead"""
    def no_acpi(root):
        root.find("features").remove(root.find("features/acpi"))

    def empty_cell(root):
        ET.SubElement(root.find("cpu/numa"), "cell", id="1", memory="0",
                      unit="MiB")
        root.remove(root.find("{%s}commandline" % QEMU_NS))

    if LIBVIRT_VERSION >= NATIVE:
        # (with HMAT in the XML, libvirt gives it an attached initiator)
        empty = ("a <cell memory='0'> is a node without memory (libvirt "
                 ">= 11.8)", empty_cell, "domxml-to-native",
                 r" -numa node,nodeid=1(,initiator=\d+)? ")
    else:
        empty = ("a <cell memory='0'> fails: QEMU refuses a 0-byte backend",
                 empty_cell, "create",
                 r"memory-backend-ram doesn't take value '0'")
    for name, edit, call, pattern in (
            # libvirt gives QEMU >= 9.0, which has no -no-acpi, acpi=off
            ("without <features><acpi/> libvirt turns ACPI off (no SRAT)",
             no_acpi, "domxml-to-native",
             r"(^| )-no-acpi( |$)|-machine [^ ]*\bacpi=off\b"),
            empty):
        xml = domain_xml(args, "x86_64", topo, None, edit)
        save(work, "limit-%d.xml" % len(os.listdir(work)), xml)
        if call == "create":
            dom, text = create_paused(conn, xml, "numa-gi-x86_64")
            if dom is not None:
                destroy(dom)
                text = "the domain started"
        else:
            argv, err = attempt(120, conn.domainXMLToNative, "qemu-argv",
                                xml, 0)
            text = argv if argv is not None else err
        r.check(re.search(pattern, text, re.M) is not None,
                "x86_64: " + name, text.strip()[-400:])


def check_refusal(r, conn, args, work, arch, topo, name, pattern, **kw):
    """A domain that QEMU must refuse to start, with one clear message"""
    cpus = host_cpus()
    emulatorpin = kw.get("emulatorpin", format_list(cpus))
    xml = domain_xml(args, arch, topo, None, lambda root: add_affinity(
        root, cpus, emulatorpin))
    save(work, "refused-%d.xml" % len(os.listdir(work)), xml)
    dom, text = create_paused(conn, xml, "numa-gi-%s" % arch)
    if dom is not None:
        destroy(dom)
        r.fail(name, "the domain started")
        return
    m = (re.findall(r"qemu-system-[a-z0-9_]+: (.*)", text) or [None])[-1]
    r.check(re.search(pattern, text) is not None,
            "%s (%s)" % (name, m.strip() if m else "?"),
            text.strip()[-500:])


def check_domain(r, conn, args, work, arch, topo_path, affinity):
    name = "numa-gi-%s" % arch
    log = os.path.join(work, "console-%s.log" % arch)
    cpus = host_cpus()
    pin = affinity and len(cpus) >= 2 and cpus == online_cpus()
    if affinity and not pin:
        r.skip("%s: libvirt <cputune> against vcpu-affinity" % arch,
               "needs 2 host CPUs, all of them allowed to this process "
               "(allowed %s, online %s)" % (format_list(cpus),
                                            format_list(
                                                online_cpus())))
    xml = domain_xml(args, arch, topo_path, log,
                     (lambda root: add_affinity(
                         root, cpus, format_list(cpus))) if pin
                     else (lambda root: None))
    path = save(work, "%s.xml" % name, xml)
    dom, err = create_paused(conn, xml, name)
    if not r.check(dom is not None, "%s: libvirt starts the domain "
                   "(%s)" % (arch, os.path.basename(path)),
                   (err or "").strip()[-800:]):
        return
    try:
        check_paused(r, arch, dom, cpus if pin else None,
                     generic_initiators(topo_path))
        secs = run_guest(r, dom, arch, "resume", args.timeout, log)
        if secs is None:
            return
    finally:
        destroy(dom)
    if secs is STALLED:
        kept_stall(log)
        return check_domain(r, conn, args, work, arch, topo_path, affinity)
    check_cmdline(r, work, arch, name)
    check_guest(r, arch, topo_path, log, secs)


# run_guest()'s result for a guest that stalled, to be booted again
STALLED = object()


def kept_stall(console):
    """Keep the console log of a guest that stalled, as guestboot does,
    before it boots again"""
    os.replace(console, console[:-len(".log")] + "-stalled.log")


def run_guest(r, dom, name, verb, timeout, console):
    """Start (verb 'start') or resume (verb 'resume') DOM, then the
    seconds until DOM is shut off (its guest powered off); None, with a
    FAIL line, if libvirt refused, after TIMEOUT seconds, or once the
    guest stalls (its kernel says so in CONSOLE, the console log: the
    vCPUs' state is kept beside it); STALLED for a first stall
    (Results.forgive())"""
    t0 = time.monotonic()
    new, tail = guestboot.new_lines(console), ""

    def hmp(command):
        return qmp(dom, "human-monitor-command", {"command-line": command})
    probe = guestboot.StuckProbe(hmp)
    _, err = attempt(300, {"start": dom.create, "resume": dom.resume}[verb])
    if not r.check(err is None, "%s: virsh %s" % (name, verb),
                   "%s\n%s" % ((err or "").strip()[-800:],
                               domain_log(dom.name())[-1500:])):
        return None
    while time.monotonic() - t0 < timeout:
        try:
            state = bounded(60, dom.state)[0]
        except libvirt.libvirtError:
            # a transient domain is gone once shut off
            return time.monotonic() - t0
        if state == libvirt.VIR_DOMAIN_SHUTOFF:
            return time.monotonic() - t0
        line, tail = guestboot.stall_line(new, tail)
        if line is None:
            line = probe()
        if line is not None:
            st = guestboot.stalled(line, time.monotonic() - t0, hmp,
                                   os.path.dirname(console))
            if r.forgive(name, st):
                return STALLED
            r.fail("%s: the guest powers off" % name, st.report())
            return None
        time.sleep(0.5)
    r.fail("%s: the guest powers off" % name,
           "still running after %d s" % timeout)
    return None


def check_paused(r, arch, dom, cpus, gis):
    schema = qmp(dom, "query-qmp-schema")
    names = set(e.get("name") for e in schema)
    values = set(v for e in schema for v in e.get("values", []))
    for what, present in (("object type acpi-generic-initiator",
                           "acpi-generic-initiator" in values),
                          ("object type vcpu-affinity",
                           "vcpu-affinity" in values),
                          ("command query-vcpu-affinity",
                           "query-vcpu-affinity" in names)):
        r.check(present, "%s: query-qmp-schema through libvirt has %s"
                % (arch, what))
    objs = {}
    for o in qmp(dom, "qom-list", {"path": "/objects"}):
        if o["type"] == "child<acpi-generic-initiator>":
            path = "/objects/" + o["name"]
            objs[o["name"]] = tuple(
                qmp(dom, "qom-get", {"path": path, "property": prop})
                for prop in ("pci-dev", "node"))
    want = dict(("gi-%s-%d" % (alias, n), (alias, n)) for alias, n in gis)
    r.check(objs == want, "%s: the %d generic initiators are QOM objects "
            "with their pci-dev and node" % (arch, len(want)),
            "got %s, expected %s" % (sorted(objs.items()),
                                     sorted(want.items())))
    if cpus is None:
        return
    first, last = str(cpus[0]), str(cpus[-1])
    pid = qemu_pid(dom)
    info = qmp(dom, "query-vcpu-affinity")
    for v in info["vcpus"]:
        i = v["cpu-index"]
        real = thread_cpus(pid, v["thread-id"])
        if i == 0:
            want, how = [cpus[-1]], "libvirt's vcpupin wins over"
        elif LIBVIRT_VERSION <= REPINS_ALL:
            want, how = cpus, "libvirt's default (every host CPU) wins over"
        else:
            want, how = [cpus[0]], "no vcpupin, and libvirt leaves it to"
        r.check(v.get("affinity") == want and real == want,
                "%s: vCPU %d on host CPUs %s: %s vcpu-affinity va-default "
                "(%s)" % (arch, i, format_list(want), how, first),
                "query %s, /proc %s" % (v.get("affinity"), real))
        r.check(v.get("rule") == "va-default",
                "%s: vCPU %d: query-vcpu-affinity still names our rule"
                % (arch, i), "rule %s" % v.get("rule"))
    # libvirt applies <emulatorpin> before it lets QEMU run (as the start
    # set); emulator-affinity then narrows it, so ours wins here
    emu = info["emulator"]
    vcpu_tids = set(v["thread-id"] for v in info["vcpus"])
    others = {}
    for tid in sorted(int(t) for t in os.listdir("/proc/%d/task" % pid)):
        if tid in vcpu_tids:
            continue
        try:
            with open("/proc/%d/task/%d/comm" % (pid, tid)) as f:
                others["%s(%d)" % (f.read().strip(), tid)] = \
                    thread_cpus(pid, tid)
        except OSError:
            pass        # a worker thread that has just exited
    r.check(emu.get("affinity") == [cpus[0]] and emu.get("rule") == "ea" and
            others and all(c == [cpus[0]] for c in others.values()),
            "%s: emulator threads on host CPU %s: emulator-affinity ea "
            "narrows libvirt's emulatorpin (%s): %s"
            % (arch, first, format_list(cpus),
               ", ".join(sorted(others))),
            "query %s; /proc %s" % (emu, " ".join(
                "%s:%s" % kv for kv in sorted(others.items()))))
    # libvirt's own view of the pinning (what virsh vcpupin prints): one
    # flag per host CPU for each vCPU
    pins, err = attempt(60, dom.vcpuPinInfo, 0)
    vcpu0 = [c for c, on in enumerate(pins[0]) if on] if pins else None
    r.check(vcpu0 == [cpus[-1]], "%s: virsh vcpupin agrees: vCPU 0 on %s"
            % (arch, last), err or "vCPU 0 on %s" % format_list(vcpu0))


def check_cmdline(r, work, arch, dom):
    """Where each HMAT row came from: libvirt formats its interconnects'
    bandwidth in KiB; our commandline rows are in MiB"""
    text = domain_log(dom)
    if not r.check(text, "%s: QEMU's log in /var/log/libvirt/qemu" % arch):
        return
    # libvirt logs the command line one argument per line, joined by " \"
    lines = text.replace(" \\\n", " ").splitlines()
    cmds = [line for line in lines if line.startswith("LC_ALL=")]
    cmd = cmds[-1] if cmds else ""
    save(work, "%s-qemu.log" % dom, text)
    r.check("hmat=on" in cmd, "%s: libvirt turned HMAT on" % arch)
    r.check(re.search(r"hmat-lb,initiator=0,target=0,hierarchy=memory,"
                      r"data-type=access-bandwidth,bandwidth=\d+K", cmd)
            is not None, "%s: the CPU row came from libvirt's "
            "<interconnects>" % arch)
    r.check(re.search(r"hmat-lb,initiator=[1-9]\d*,target=0,"
                      r"hierarchy=memory,data-type=access-bandwidth,"
                      r"bandwidth=\d+M", cmd) is not None,
            "%s: the generic initiator rows came from "
            "<qemu:commandline>" % arch)


def check_guest(r, arch, topo_path, log, secs):
    topo = numaguest.Topology(topo_path)
    try:
        out = open(log, errors="replace").read()
    except OSError as e:
        r.fail("%s: guest console" % arch, str(e))
        return
    g = numaguest.parse_guest(out)
    if not r.check("end" in g, "%s: the guest ran tests/guest/init to the "
                   "end (%.1f s)" % (arch, secs),
                   guest_died(out, "numa-gi-%s" % arch)):
        return
    ck = numaguest.Checker(quiet=True)
    numaguest.verify(topo, g, ck)
    for line in ck.lines:
        if line.startswith("FAIL"):
            r.fail("%s guest" % arch, line[4:].strip())
    if not ck.failed:
        r.ok("%s guest sees the topology: %d checks of "
             "tests/guest/numa-guest.py passed (GI nodes online, HMAT from "
             "both sources, access0/access1)" % (arch, ck.passed))


def check_mirror(r, conn, args, work, fixture):
    """scripts/host-topology.py --format libvirt: a domain made from a
    captured host, defined and started by libvirt, whose guest captures
    its sysfs; every fact must equal the fixture's, on host node ids
    (through the JSON model of the same node ids)"""
    arch, extra = mirror.FIXTURES[fixture]
    name = "%s: host-topology.py --format libvirt (%s)" % (arch, fixture)
    sysfs = os.path.join(mirror.FIXTURE_DIR, fixture, "sys")
    domname = "mirror-%s" % fixture
    log = os.path.join(work, "console-%s.log" % domname)
    flags = ["--domain", "--name", domname,
             "--emulator", os.path.join(args.build, "qemu-system-" + arch),
             "--kernel", args.assets["KERNEL_" + arch],
             "--initrd", args.assets["INITRD_" + arch],
             "--cmdline", "console=%s quiet panic=-1 capture"
             % numaconfig.CONSOLES[arch], "--console-log", log]
    if arch == "aarch64":
        flags += ["--loader", args.assets["FIRMWARE_aarch64"],
                  "--nvram-template", args.assets["VARS_aarch64"]]
    try:
        model = json.loads(mirror.run_tool(sysfs, arch, extra +
                                           ["--libvirt-ids"], "json")[0])
        xml, notes = mirror.run_tool(sysfs, arch, extra + flags, "libvirt")
    except SystemExit as e:
        r.fail(name, str(e))
        return
    save(work, "%s.xml" % domname, xml)
    cells = {int(c.get("id")): int(c.get("memory"))
             for c in ET.fromstring(xml).iterfind("cpu/numa/cell")}
    if not r.check(cells == {n["guest"]: n["memory_mb"] for n in
                             model["nodes"] if n["memory_mb"]},
                   "%s and --format json --libvirt-ids agree on the cells"
                   % name, "XML %s, JSON %s" % (cells, model["nodes"])):
        return
    dom = define_validated(r, conn, xml, name)
    if dom is None:
        return
    try:
        secs = run_guest(r, dom, name, "start", args.timeout, log)
        if secs is None:
            return
    finally:
        destroy(dom)
        save(work, "%s-qemu.log" % domname, domain_log(domname))
        attempt(60, dom.undefineFlags, libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    if secs is STALLED:
        kept_stall(log)
        return check_mirror(r, conn, args, work, fixture)
    try:
        out = open(log, errors="replace").read()
        entries = capture.parse_capture(out)
    except (OSError, capture.CaptureError) as e:
        r.fail("%s: the guest's capture" % name, str(e))
        return
    if not r.check(entries and re.search(r"@@ end\s*$", out, re.M),
                   "%s: the guest captured its sysfs (%d files, %.1f s)"
                   % (name, len(entries), secs),
                   guest_died(out, domname)):
        return
    compare_guest(r, name, fixture, os.path.join(work, domname), entries,
                  model, mirror.LIBVIRT_STAND_IN_IDS, " through libvirt")


def define_validated(r, conn, xml, name):
    """virsh define --validate XML: the domain, or None with a FAIL"""
    dom, err = attempt(120, conn.defineXMLFlags, xml,
                       libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    r.check(dom is not None, "%s: virsh define --validate" % name,
            (err or "").strip()[-800:])
    return dom


def compare_guest(r, name, fixture, tree, entries, model, stand_in,
                  how=""):
    """The guest's captured sysfs (ENTRIES, written below TREE) against
    the fixture's, fact by fact, on host node ids (MODEL: the tool's JSON
    model); STAND_IN: the ids of the devices standing in for the host's"""
    arch, extra = mirror.FIXTURES[fixture]
    sysfs = os.path.join(mirror.FIXTURE_DIR, fixture, "sys")
    capture.write_tree(entries, tree)
    got_topo = numatopo.read_sysfs(os.path.join(tree, "sys"))
    bdfs = [extra[i + 1] for i, a in enumerate(extra) if a == "--device"]
    want = mirror.host_facts(numatopo.read_sysfs(sysfs), bdfs)
    got = mirror.guest_facts(got_topo, mirror.node_map(got_topo, model),
                             stand_in=stand_in)
    lines = io.StringIO()
    with contextlib.redirect_stdout(lines):
        checked, failed = mirror.compare(want, got, fixture)
    for line in lines.getvalue().splitlines():
        r.fail("%s: fact" % name, line.strip()[len("FAIL "):])
    if not failed:
        r.ok("%s: every fact of the host equal in the guest%s: %d of %d"
             % (name, how, checked - failed, checked))


def native_argv(conn, xml):
    """(environment, argv) of the QEMU command line libvirt makes of XML
    (virsh domxml-to-native qemu-argv)"""
    text = bounded(120, conn.domainXMLToNative, "qemu-argv", xml, 0)
    words = shlex.split(text)
    env = {}
    while words and re.match(r"[A-Z_]+=", words[0]):
        k, _, v = words.pop(0).partition("=")
        env[k] = v
    return env, words


def option_values(argv, opt):
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == opt]


def stand_in_argv(env, argv):
    """ARGV with each vfio-pci device replaced by a pci-testdev of the
    same id, bus, address and multifunction (the generic initiators name
    the id), without
    -S (nothing resumes it) and -no-shutdown (QEMU exits when the guest
    powers off): the command libvirt would run, on a host without the
    device.  What libvirt would make before it runs
    QEMU is made here: the domain's directory (its HOME in ENV) and the
    master key QEMU reads from it"""
    os.makedirs(env["HOME"], exist_ok=True)
    for o in option_values(argv, "-object"):
        obj = json.loads(o) if o.startswith("{") else {}
        if obj.get("qom-type") == "secret" and obj.get("file"):
            with open(obj["file"], "wb") as f:
                f.write(os.urandom(32))
    out = []
    for k, a in enumerate(argv):
        prev = argv[k - 1] if k else None
        if prev == "-device" and a.startswith("{"):
            dev = json.loads(a)
            if dev.get("driver") == "vfio-pci":
                a = json.dumps(dict({"driver": "pci-testdev"}, **{
                    k: v for k, v in dev.items()
                    if k in ("id", "bus", "addr", "multifunction")}))
        # libvirt stops QEMU itself when the guest powers off
        if a in ("-S", "-no-shutdown"):
            continue
        out.append(a)
    return out


def vcpu_threads(p, vcpus, console, timeout=60):
    """{thread name: its host CPUs} of the vCPU threads ("CPU N/TCG",
    with libvirt's debug-threads=on) of QEMU process P, once all VCPUS
    of them are there and the guest runs (it has written to the file
    CONSOLE: QEMU places its threads before); {} if P ends first or
    after TIMEOUT seconds"""
    end = time.monotonic() + timeout
    while p.poll() is None and time.monotonic() < end:
        found = {}
        if not os.path.exists(console) or not os.path.getsize(console):
            time.sleep(0.05)
            continue
        for task in glob.glob("/proc/%d/task/*" % p.pid):
            try:
                with open(os.path.join(task, "comm")) as f:
                    comm = f.read().strip()
                if re.fullmatch(r"CPU \d+/TCG", comm):
                    found[comm] = thread_cpus(p.pid,
                                              int(os.path.basename(task)))
            except (OSError, AttributeError):
                continue
        if len(found) == vcpus:
            return found
        time.sleep(0.05)
    return {}


def check_interconnects(r, conn, root, name):
    """What <interconnects> still cannot say on this libvirt, which the
    tool therefore keeps in <qemu:commandline> (docs/system/libvirt.rst):
    a row from a cell without vCPUs, and the second direction of a pair
    of cells.  ROOT: a domain libvirt accepts; each probe adds one row to
    a copy of it, which libvirt must refuse with its message"""
    cells = list(root.iterfind("cpu/numa/cell"))
    cpu = [c.get("id") for c in cells if c.get("cpus")]
    nocpu = [c.get("id") for c in cells if not c.get("cpus")]
    rows = root.findall("cpu/numa/interconnects/latency")
    pair = next((x for x in rows if x.get("initiator") != x.get("target")
                 and x.get("target") in cpu), None)
    probes = []
    if cpu and nocpu:
        probes.append(("a row from cell %s, which has no vCPUs" % nocpu[0],
                       dict(initiator=nocpu[0], target=cpu[0], type="read",
                            value="1"),
                       "NUMA nodes without CPUs can't be initiator"))
    if pair is not None:
        probes.append(("the second direction, %s to %s after %s to %s" % (
            pair.get("target"), pair.get("initiator"), pair.get("initiator"),
            pair.get("target")), dict(
                initiator=pair.get("target"), target=pair.get("initiator"),
                type=pair.get("type"), value="1"),
            "Link already defined"))
    for what, attrs, message in probes:
        copy = ET.fromstring(ET.tostring(root, encoding="unicode"))
        numa = copy.find("cpu/numa")
        ic = numa.find("interconnects")
        if ic is None:
            ic = ET.SubElement(numa, "interconnects")
        ET.SubElement(ic, "latency", **attrs)
        dom, err = attempt(120, conn.defineXMLFlags,
                           ET.tostring(copy, encoding="unicode"),
                           libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        if dom is not None:
            attempt(60, dom.undefineFlags, libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        r.check(dom is None and message in (err or ""),
                "%s: <interconnects> still refuses %s (%s)" % (
                    name, what, message),
                "accepted" if dom is not None else err)


def check_native(r, conn, args, work, fixture):
    """libvirt >= 11.8's own generic initiators: scripts/host-topology.py
    --format libvirt --libvirt-version 11.8 of a captured host, with a
    <hostdev> (no stand-in) whose <acpi nodeset> names the device's
    nodes, and <cell memory='0'> for nodes without memory.  libvirt
    validates it and writes QEMU's arguments (domxml-to-native; it cannot
    start it: this machine has no device to assign).  Those arguments,
    with a pci-testdev of the same id and address in place of vfio-pci,
    boot the guest, whose facts must all equal the host's."""
    arch, extra = mirror.FIXTURES[fixture]
    name = "%s: libvirt %d.%d native <hostdev><acpi nodeset> (%s)" % (
        (arch,) + LIBVIRT_VERSION[:2] + (fixture,))
    sysfs = os.path.join(mirror.FIXTURE_DIR, fixture, "sys")
    domname = "native-%s" % fixture
    log = os.path.join(work, "console-%s.log" % domname)
    flags = ["--domain", "--name", domname, "--libvirt-version", "11.8",
             "--emulator", os.path.join(args.build, "qemu-system-" + arch),
             "--kernel", args.assets["KERNEL_" + arch],
             "--initrd", args.assets["INITRD_" + arch],
             "--cmdline", "console=%s quiet panic=-1 capture"
             % numaconfig.CONSOLES[arch], "--console-log", log]
    nvram = os.path.join(work, "%s_VARS.fd" % domname)
    if arch == "aarch64":
        flags += ["--loader", args.assets["FIRMWARE_aarch64"],
                  "--nvram", nvram]
    try:
        model = json.loads(mirror.run_tool(sysfs, arch, extra +
                                           ["--libvirt-ids"], "json")[0])
        xml = mirror.run_tool(sysfs, arch, extra + flags, "libvirt",
                              stand_in=None)[0]
    except SystemExit as e:
        r.fail(name, str(e))
        return
    save(work, "%s.xml" % domname, xml)
    root = ET.fromstring(xml)
    acpi = {h.find("alias").get("name"): parse_list(h.find("acpi").get(
        "nodeset")) for h in root.iterfind("devices/hostdev")
        if h.find("acpi") is not None}
    empty = [int(c.get("id")) for c in root.iterfind("cpu/numa/cell")
             if c.get("memory") == "0"]
    want_gi = sorted((d["id"], n) for d in model["devices"]
                     for n in d["nodes"])
    if not r.check(sorted((a[len("ua-"):], n)
                          for a, ns in acpi.items() for n in ns) ==
                   want_gi and not root.findall(
                       "{%s}commandline/{%s}arg[@value='-object']"
                       % (QEMU_NS, QEMU_NS)),
                   "%s: the domain says its generic initiators in <acpi> "
                   "only" % name, "acpi %s, want %s" % (acpi, want_gi)):
        return
    # the vCPUs' placement: our rule puts every vCPU on the last host
    # CPU (libvirt's own <vcpupin> acts only when libvirt starts a domain,
    # which check_domain() covers)
    cpus = host_cpus()
    cl = root.find("{%s}commandline" % QEMU_NS)
    if cl is None:
        cl = ET.SubElement(root, "{%s}commandline" % QEMU_NS)
    for v in ("-object", json.dumps({"qom-type": "vcpu-affinity",
                                     "id": "va-native",
                                     "host-cpus": [cpus[-1]]},
                                    separators=(",", ":"))):
        ET.SubElement(cl, "{%s}arg" % QEMU_NS, value=v)
    xml = ET.tostring(root, encoding="unicode")
    save(work, "%s.xml" % domname, xml)
    dom = define_validated(r, conn, xml, name)
    if dom is None:
        return
    attempt(60, dom.undefineFlags, libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    check_interconnects(r, conn, root, name)
    try:
        env, argv = native_argv(conn, xml)
    except (libvirt.libvirtError, TimeoutError) as e:
        r.fail("%s: virsh domxml-to-native" % name, str(e))
        return
    save(work, "%s.argv" % domname, " ".join(shlex.quote(a) for a in argv))
    objs = [json.loads(o) for o in option_values(argv, "-object")
            if o.startswith("{")]
    gis = sorted((o["pci-dev"], o["node"]) for o in objs
                 if o.get("qom-type") == "acpi-generic-initiator")
    nodes = option_values(argv, "-numa")
    r.check(gis == sorted((a, n) for a, ns in acpi.items() for n in ns),
            "%s: libvirt writes one JSON acpi-generic-initiator per device "
            "and node (%d)" % (name, len(gis)), "got %s, <acpi> %s"
            % (gis, acpi))
    bare = [int(m.group(1)) for m in (re.match(r"node,nodeid=(\d+)", n)
                                      for n in nodes)
            if m and "memdev=" not in m.string and "mem=" not in m.string]
    r.check(sorted(empty) == sorted(bare),
            "%s: libvirt writes each <cell memory='0'> as a -numa node "
            "without memory (%s)" % (name, format_list(empty) or "none"),
            "cells %s; -numa node options %s" % (
                empty, [n for n in nodes if n.startswith("node,")]))
    run_argv = stand_in_argv(env, argv)
    qlog = os.path.join(work, "%s-qemu.log" % domname)
    while True:
        if arch == "aarch64":
            # libvirt would copy the template when it starts the domain
            shutil.copyfile(args.assets["VARS_aarch64"], nvram)
        t0 = time.monotonic()
        sock = os.path.join(tempfile.mkdtemp(prefix="native-qmp-"),
                            "qmp.sock")
        with open(qlog, "w") as f:
            p = subprocess.Popen(run_argv + ["-qmp", "unix:%s,server=on,"
                                             "wait=off" % sock],
                                 env=env, stdin=subprocess.DEVNULL,
                                 stdout=f, stderr=subprocess.STDOUT)
        placed = vcpu_threads(p, model["vcpus"], log)
        # stopped at the timeout or once the guest stalls
        rc = guestboot.watch(p, guestboot.new_lines(log), args.timeout, t0,
                             lambda line, secs: guestboot.stalled(
                                 line, secs, guestboot.hmp_client(sock),
                                 work), guestboot.hmp_client(sock))
        shutil.rmtree(os.path.dirname(sock), ignore_errors=True)
        if not (isinstance(rc, guestboot.Stalled) and r.forgive(name, rc)):
            break
        kept_stall(log)
    secs = time.monotonic() - t0
    qout = open(qlog, errors="replace").read()
    r.check(placed and all(c == [cpus[-1]] for c in placed.values()),
            "%s: every vCPU thread on host CPU %d, as vcpu-affinity "
            "va-native says" % (name, cpus[-1]), "threads %s" % placed)
    try:
        out = open(log, errors="replace").read()
        entries = capture.parse_capture(out)
    except (OSError, capture.CaptureError) as e:
        out, entries = str(e), {}
    if not r.check(entries and re.search(r"@@ end\s*$", out, re.M),
                   "%s: libvirt's arguments, vfio-pci stood in for by "
                   "pci-testdev, boot the guest (%d files captured, %.1f s)"
                   % (name, len(entries), secs),
                   "QEMU exit %s: %s\nconsole: %s" % (
                       guestboot.describe(rc), qout[-600:],
                       "\n".join(out.splitlines()[-10:]))):
        return
    compare_guest(r, name, fixture, os.path.join(work, domname), entries,
                  model, (mirror.STAND_IN_ID,))


def mounts_leak(dirs):
    """Whether a mount made here, in one of @dirs, shows in the parent's
    mount namespace (tried with an empty tmpfs on a new subdirectory)"""
    for d in dirs:
        os.makedirs(d, exist_ok=True)
        canary = os.path.join(d, ".libvirt-test-canary")
        os.mkdir(canary)
        try:
            subprocess.check_call(["mount", "-t", "tmpfs", "libvirt-test",
                                   canary])
            try:
                with open("/proc/%d/mountinfo" % os.getppid()) as f:
                    if any(line.split()[4] == canary for line in f):
                        return True
            finally:
                subprocess.check_call(["umount", canary])
        finally:
            os.rmdir(canary)
    return False


def connect():
    return bounded(60, libvirt.open, URI)


def in_namespace(args, mode):
    r = Results()
    if libvirt is None:
        r.fail("libvirt test", "python3-libvirt does not import in %s"
               % sys.executable)
        return 1
    # libvirt's default error handler also prints every error on stderr;
    # the checks report those they expect, and the others, themselves
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    work = tempfile.mkdtemp(prefix="libvirt-test-", dir=args.workdir)
    daemons = Daemons(work)
    conn = None
    try:
        if mode != "private" and mounts_leak(["/etc/libvirt"] +
                                             PRIVATE_DIRS):
            r.skip("libvirt", "no private mount namespace here: mounts "
                   "would reach the host's /etc/libvirt and /run/libvirt")
            return 0
        private_libvirt(work)
        daemons.start("virtlogd")
        daemons.start("libvirtd")
        conn = connect()
        global LIBVIRT_VERSION
        v = conn.getLibVersion()
        LIBVIRT_VERSION = (v // 1000000, v // 1000 % 1000, v % 1000)
        p = run(["libvirtd", "--version"])
        r.ok("libvirtd and virtlogd started (%s)" % p.stdout.strip())
        for arch in args.arch:
            check_domcapabilities(r, conn, args.build, arch)
        topo = args.topology
        if "x86_64" in args.arch:
            check_example(r, conn, args, work)
            check_limits(r, conn, args, work, topo)
        # libvirt's default -sandbox denies QEMU resource control
        check_refusal(r, conn, args, work, args.arch[0], topo,
                      "%s: under libvirt's default seccomp sandbox a "
                      "vcpu-affinity object stops QEMU with a clear error"
                      % args.arch[0],
                      r"vcpu-affinity 'va-default': cannot set thread "
                      r"affinity.*resourcecontrol=deny")
        # the rest with QEMU allowed to set affinity, so that both
        # placements happen and the order decides
        write_qemu_conf(work, sandbox=0)
        attempt(30, conn.close)
        conn = None
        daemons.stop("libvirtd")
        daemons.start("libvirtd")
        conn = connect()
        cpus = host_cpus()
        if len(cpus) < 2:
            r.skip("%s: a rule outside libvirt's <emulatorpin>"
                   % args.arch[0], "needs 2 host CPUs")
        else:
            # libvirt starts QEMU on <emulatorpin>; our rules must stay
            # within the host CPUs QEMU was started on
            check_refusal(r, conn, args, work, args.arch[0], topo,
                          "%s: a vcpu-affinity rule outside libvirt's "
                          "<emulatorpin> stops QEMU with a clear error"
                          % args.arch[0],
                          r"vcpu-affinity 'va-default': host CPU %d is not "
                          r"one QEMU may run on \(%d\)"
                          % (cpus[0], cpus[-1]), emulatorpin=str(cpus[-1]))
        for k, arch in enumerate(args.arch):
            try:
                check_domain(r, conn, args, work, arch, topo,
                             affinity=(k == 0))
            except Exception:
                r.fail("%s: the domain test" % arch, traceback.format_exc())
        for fixture in MIRRORED:
            if mirror.FIXTURES[fixture][0] not in args.arch:
                continue
            try:
                check_mirror(r, conn, args, work, fixture)
            except Exception:
                r.fail("%s: the mirror test" % fixture,
                       traceback.format_exc())
            if LIBVIRT_VERSION < NATIVE:
                if args.require_native:
                    r.fail("%s: libvirt's native generic initiators"
                           % fixture, "libvirt %d.%d.%d is older than 11.8"
                           % LIBVIRT_VERSION)
                else:
                    print("note %s: libvirt's native generic initiators "
                          "not tried: libvirt %d.%d.%d is older than 11.8"
                          % ((fixture,) + LIBVIRT_VERSION))
                continue
            try:
                check_native(r, conn, args, work, fixture)
            except Exception:
                r.fail("%s: the native test" % fixture,
                       traceback.format_exc())
    except Exception:
        r.fail("libvirt test", traceback.format_exc())
    finally:
        if conn is not None:
            attempt(30, conn.close)
        daemons.stop_all()
        if args.keep:
            print("logs and XML kept in %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if r.failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--assets", required=True)
    ap.add_argument("--arch", default="x86_64,aarch64")
    ap.add_argument("--topology",
                    default=os.path.join(TOP, "tests/guest/topologies/"
                                         "mig.json"))
    ap.add_argument("--install", action="store_true",
                    help="apt-get install libvirt when it is missing")
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--require-native", action="store_true",
                    help="fail unless libvirt writes generic initiators "
                    "itself (>= 11.8)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.arch = args.arch.split(",")
    args.build = os.path.abspath(args.build)
    args.assets = numaguest.load_assets(args.assets)

    if os.environ.get("LIBVIRT_TEST_NS"):
        return in_namespace(args, os.environ["LIBVIRT_TEST_NS"])
    name = "libvirt"
    if os.geteuid() != 0:
        print("skip %s: needs root (to install and start libvirtd, which "
              "runs QEMU)" % name)
        return 0
    if missing_tools():
        if not args.install:
            print("skip %s: %s not installed (apt-get install %s)"
                  % (name, ", ".join(missing_tools()), " ".join(PACKAGES)))
            return 0
        done, out = install()
        if not done or missing_tools():
            print("skip %s: apt-get install %s failed:\n%s"
                  % (name, " ".join(PACKAGES), out[-1500:]))
            return 0
    # "private" makes every mount of the new namespace private.  In a
    # chroot it fails ("/" is no mount point there); then the namespace
    # keeps the propagation it inherits, and the child checks that its
    # mounts do not reach this namespace before it makes any other
    for mode in ("private", "unchanged"):
        cmd = ["unshare", "--mount", "--propagation", mode]
        if subprocess.run(cmd + ["true"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.STDOUT).returncode == 0:
            break
    else:
        print("skip %s: cannot make a mount namespace (unshare --mount "
              "failed)" % name)
        return 0
    env = dict(os.environ, LIBVIRT_TEST_NS=mode)
    # the child runs under the interpreter that has the bindings
    return subprocess.run(cmd + [bindings_python()] + sys.argv,
                          env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
