#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make series: the work as a series of mail-format patches.

The repository keeps new QEMU files at their paths (the overlay,
mk/overlay-files.sh), regenerated base files under baseline/, and changes
to existing files as the quilt series patches/series.  This script turns
them into one patch per entry of patches/series, each carrying the new
files that patches/manifest places in it, for git am, review, bisection
and a distribution's patch directory:

  OUT/series, OUT/NNNN-*.patch    git format-patch output: From, Date,
                                  Subject [PATCH n/N], the message of the
                                  patch in patches/, a diffstat, the diff
                                  (binary files as git binary patches)
  DEBIAN/                         the same for quilt and dpkg-source, which
                                  cannot apply git binary patches: the
                                  patches without their binary files, and
                                  those files with the include-binaries
                                  list that carries them (README there)

How: a scratch git repository (WORK) starts from the base versions of
every file the series changes; for each patch of patches/series in order,
the files the manifest places in it are copied in (new files from the
overlay, base files from baseline/), the patch's diff is applied with
patch -F0 like mk/prepare.sh does, and the result is committed with the
patch's author, subject and body; git format-patch writes the series.
The message of a patch in patches/ is its body as the series shows it,
minus any paragraph that starts with "In patches/ only:" (notes for
readers of the quilt form).  Each patch is dated by the last commit of
this repository that touched it or its files.

Checks, each fatal and naming what is wrong: a new or rebaselined file
that the manifest does not place, a manifest line that matches no file or
names a patch that is not in patches/series, a patch that changes a new
file before the patch that adds it, a patch that does not apply or
changes nothing, and a last tree that differs from the one mk/prepare.sh
composed in .build/src (run make prepare first).

  --check-manifest   only check that the manifest places every file
"""

import argparse
import email.utils
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTE = "In patches/ only:"
ALLOWED_DIFF = "tests/qtest/bios-tables-test-allowed-diff.h"
# git's output must not depend on the caller's configuration
GIT_ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               LC_ALL="C", TZ="UTC")


class SeriesError(Exception):
    pass


def git(work, *args, env=None, text=True):
    r = subprocess.run(["git", "-C", work] + list(args), env=env or GIT_ENV,
                       capture_output=True, text=text)
    if r.returncode:
        raise SeriesError("git %s failed:\n%s%s" % (" ".join(args[:3]), r.stdout,
                                                    r.stderr))
    return r.stdout


def read_series():
    names = []
    with open(os.path.join(PATCHES, "series")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                if not os.path.isfile(os.path.join(PATCHES, line)):
                    raise SeriesError("patches/series names missing patch %s" % line)
                names.append(line)
    return names


def parse_patch(name):
    """A patch of patches/: (headers, subject, body, diff)"""
    path = os.path.join(PATCHES, name)
    with open(path) as f:
        lines = f.read().split("\n")
    headers = {}
    i = 0
    key = None
    while i < len(lines) and lines[i] != "":
        line = lines[i]
        if line[:1] in (" ", "\t") and key:
            headers[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            headers[key.lower()] = value.strip()
        else:
            raise SeriesError("patches/%s:%d: not a mail header: %s"
                              % (name, i + 1, line))
        i += 1
    for h in ("from", "subject"):
        if not headers.get(h):
            raise SeriesError("patches/%s: no %s: header" % (name, h.capitalize()))
    try:
        end = lines.index("---", i)
    except ValueError:
        raise SeriesError("patches/%s: no '---' line after the message" % name)
    subject = headers["subject"]
    if subject.startswith("["):
        subject = subject[subject.index("]") + 1:].strip()
    # the body, without the notes for patches/ only
    paras, cur = [], []
    for line in lines[i + 1:end] + [""]:
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            paras.append(cur)
            cur = []
    paras = [p for p in paras if not p[0].startswith(NOTE)]
    body = "\n\n".join("\n".join(p) for p in paras)
    if "Signed-off-by:" not in body:
        raise SeriesError("patches/%s: no Signed-off-by:" % name)
    diff = "\n".join(lines[end + 1:])
    if not any(line.startswith("--- ") for line in lines[end + 1:]):
        diff = ""
    return headers, subject, body, diff


def diff_targets(diff):
    return [line[6:].split()[0] for line in diff.split("\n")
            if line.startswith("+++ b/")]


def allowed_diffs(diff):
    """The tables a diff adds to bios-tables-test-allowed-diff.h"""
    out, cur = [], None
    for line in diff.split("\n"):
        if line.startswith("+++ b/"):
            cur = line[6:].split()[0]
        elif cur == ALLOWED_DIFF and line.startswith('+"'):
            out.append(line[2:].split('"')[0])
    return out


BASE = os.environ.get("BASE", "7.2")
PATCHES = os.path.join(TOP, "patches", BASE)
BASELINE = os.path.join(TOP, "baseline", BASE)


def base_setting(name):
    """NAME of mk/bases/BASE.env"""
    with open(os.path.join(TOP, "mk", "bases", BASE + ".env")) as f:
        for line in f:
            if line.startswith(name + "="):
                return line.strip().split("=", 1)[1]
    return ""


# REPO/=BASE/ prefixes of the overlay that this base spells otherwise
PATH_MAP = [tuple(m.split("=", 1))
            for m in base_setting("BASE_PATH_MAP").split(",") if m]


def to_base(path):
    """the base's path of overlay file PATH"""
    for repo, base in PATH_MAP:
        if path.startswith(repo):
            return base + path[len(repo):]
    return path


def overlay_files(base):
    r = subprocess.run([os.path.join(TOP, "mk", "overlay-files.sh"), TOP, base],
                       capture_output=True, text=True)
    if r.returncode:
        raise SeriesError("mk/overlay-files.sh failed: %s" % r.stderr)
    return r.stdout.split("\n")[:-1]


def baseline_files():
    out = []
    for d, dirs, files in os.walk(BASELINE):
        for f in files:
            p = "baseline/" + os.path.relpath(os.path.join(d, f), BASELINE)
            if p != "baseline/README.md":
                out.append(p)
    return sorted(out)


def read_manifest(series):
    """patches/manifest: [(lineno, path, patch)]"""
    path = os.path.join(PATCHES, "manifest")
    entries, seen = [], {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) != 2:
                raise SeriesError("patches/manifest:%d: expected 'PATH PATCH': %s"
                                  % (n, line))
            p, patch = fields
            if patch not in series:
                raise SeriesError("patches/manifest:%d: %s is not in patches/series"
                                  % (n, patch))
            if p in seen:
                raise SeriesError("patches/manifest:%d: %s is placed already on line %d"
                                  % (n, p, seen[p]))
            seen[p] = n
            entries.append((n, p, patch))
    return entries


def place(files, entries):
    """{file: patch}; fails naming every file not placed and every line
    that places nothing"""
    exact = {p: (n, patch) for n, p, patch in entries if not p.endswith("/")}
    dirs = sorted(((p, n, patch) for n, p, patch in entries if p.endswith("/")),
                  key=lambda e: -len(e[0]))
    placed, used, missing = {}, set(), []
    for f in files:
        if f in exact:
            placed[f] = exact[f][1]
            used.add(f)
            continue
        for d, n, patch in dirs:
            if f.startswith(d):
                placed[f] = patch
                used.add(d)
                break
        else:
            missing.append(f)
    errors = []
    if missing:
        errors.append("patches/manifest places no patch for %s:\n%s\n"
                      "add a line 'PATH PATCH' for each to patches/manifest"
                      % ("this file" if len(missing) == 1 else
                         "these %d files" % len(missing),
                         "\n".join("  " + f for f in missing)))
    for n, p, patch in entries:
        if p not in used:
            errors.append("patches/manifest:%d: %s matches no new or rebaselined "
                          "file" % (n, p))
    if errors:
        raise SeriesError("\n".join(errors))
    return placed


def copy_in(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.lexists(dst):
        os.remove(dst)
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
    else:
        shutil.copy2(src, dst)


def same(a, b):
    if os.path.islink(a) or os.path.islink(b):
        return (os.path.islink(a) and os.path.islink(b) and
                os.readlink(a) == os.readlink(b))
    if not os.path.isfile(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def patch_date(name, paths):
    """The date of the last commit that touched the patch or its files"""
    paths = [os.path.relpath(BASELINE, TOP) + p[len("baseline"):]
             if p.startswith("baseline/") else p for p in paths]
    r = subprocess.run(["git", "-C", TOP, "log", "-1", "--format=%aI", "--",
                        os.path.relpath(PATCHES, TOP) + "/" + name] + paths,
                       capture_output=True, text=True,
                       env=GIT_ENV)
    if r.returncode == 0 and r.stdout.strip():
        return r.stdout.strip()
    st = os.stat(os.path.join(PATCHES, name))
    return "@%d +0000" % st.st_mtime


def build(args):
    base = os.path.join(args.build, "base")
    if not os.path.isdir(base):
        raise SeriesError("no unpacked base in %s: run make prepare" % base)
    series = read_series()
    entries = read_manifest(series)
    overlay = overlay_files(base)
    baseline = baseline_files()
    placed = place(overlay + baseline, entries)
    if args.check_manifest:
        print("series: patches/manifest places all %d new and rebaselined files in "
              "%d patches" % (len(placed), len(set(placed.values()))))
        return
    parsed = {p: parse_patch(p) for p in series}
    by_base = {to_base(f) if not f.startswith("baseline/") else
               f[len("baseline/"):]: f for f in placed}
    step = {p: i for i, p in enumerate(series)}
    for p in series:
        for f in diff_targets(parsed[p][3]):
            if f in by_base and step[placed[by_base[f]]] > step[p]:
                raise SeriesError("patches/%s changes %s, which patches/manifest places "
                                  "in the later %s" % (p, f, placed[by_base[f]]))

    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    git(work, "init", "-q")
    git(work, "config", "user.name", "series")
    git(work, "config", "user.email", "series@localhost")
    # the base versions of every file the series changes
    touched = set(f for p in series for f in diff_targets(parsed[p][3]))
    touched |= set(f[len("baseline/"):] for f in baseline)
    for f in sorted(touched):
        if os.path.lexists(os.path.join(base, f)):
            copy_in(os.path.join(base, f), os.path.join(work, f))
    git(work, "add", "-A")
    env = dict(GIT_ENV, GIT_AUTHOR_DATE="2000-01-01T00:00:00Z",
               GIT_COMMITTER_DATE="2000-01-01T00:00:00Z")
    git(work, "commit", "-q", "--allow-empty", "-m", "base", env=env)
    git(work, "tag", "base")

    for p in series:
        headers, subject, body, diff = parsed[p]
        mine = sorted(f for f, q in placed.items() if q == p)
        # QEMU's procedure for new expected ACPI tables: the patch that
        # lists them as allowed diffs adds them empty
        for f in allowed_diffs(diff):
            if (f in by_base and step[placed[by_base[f]]] > step[p] and
                    not os.path.lexists(os.path.join(work, f))):
                os.makedirs(os.path.dirname(os.path.join(work, f)), exist_ok=True)
                open(os.path.join(work, f), "w").close()
        for f in mine:
            if f.startswith("baseline/"):
                copy_in(os.path.join(BASELINE, f[len("baseline/"):]),
                        os.path.join(work, f[len("baseline/"):]))
            else:
                copy_in(os.path.join(TOP, f), os.path.join(work, to_base(f)))
        if diff:
            r = subprocess.run(["patch", "-d", work, "-p1", "-F0", "-N", "-s",
                                "--no-backup-if-mismatch", "-r", "-"],
                               input=diff, capture_output=True, text=True)
            if r.returncode:
                raise SeriesError("patches/%s does not apply:\n%s%s"
                                  % (p, r.stdout, r.stderr))
        git(work, "add", "-A")
        if subprocess.run(["git", "-C", work, "diff", "--cached", "--quiet"],
                          env=GIT_ENV).returncode == 0:
            raise SeriesError("patches/%s changes nothing: no diff in patches/ and no "
                              "file in patches/manifest" % p)
        name, addr = email.utils.parseaddr(headers["from"])
        paths = [e[1] for e in entries if e[2] == p]
        date = patch_date(p, paths)
        env = dict(GIT_ENV, GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=addr,
                   GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=addr,
                   GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        msg = os.path.join(work, ".git", "series-msg")
        with open(msg, "w") as f:
            f.write(subject + "\n\n" + body + "\n")
        git(work, "commit", "-q", "--cleanup=whitespace", "-F", msg, env=env)

    # the last tree is the one mk/prepare.sh composed
    src = os.path.join(args.build, "src")
    tracked = git(work, "ls-files", "-z").split("\0")[:-1]
    managed_list = os.path.join(args.build, "managed.list")
    if os.path.isfile(managed_list):
        with open(managed_list) as f:
            managed = set(f.read().split("\n")[:-1])
        if managed != set(tracked):
            raise SeriesError("the series' files differ from those of .build/src "
                              "(run make prepare): %s"
                              % " ".join(sorted(managed ^ set(tracked))[:10]))
    for f in tracked:
        if not same(os.path.join(work, f), os.path.join(src, f)):
            raise SeriesError("after the series, %s differs from .build/src/%s "
                              "(run make prepare)" % (f, f))

    # git format-patch, under the names of patches/
    tmp = os.path.join(work, ".git", "format-patch")
    git(work, "format-patch", "-q", "--numbered", "--zero-commit", "--no-signature",
        "--no-renames", "--binary", "-o", tmp, "base..HEAD")
    made = sorted(os.listdir(tmp))
    if len(made) != len(series):
        raise SeriesError("git format-patch wrote %d patches for %d" % (len(made),
                                                                         len(series)))
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    for m, p in zip(made, series):
        shutil.move(os.path.join(tmp, m), os.path.join(args.out, p))
    with open(os.path.join(args.out, "series"), "w") as f:
        f.write("".join(p + "\n" for p in series))
    print("series: %d patches in %s" % (len(series), os.path.relpath(args.out, TOP)))
    for i, p in enumerate(series, 1):
        print("  %2d  %s" % (i, p))

    if args.debian:
        debian_kit(work, series, args.out, args.debian)


def debian_kit(work, series, out, kit):
    """The series for quilt and dpkg-source: without git binary patches"""
    shutil.rmtree(kit, ignore_errors=True)
    os.makedirs(os.path.join(kit, "patches"))
    def changed(a, b):
        """[(path, binary)] of the diff a..b"""
        out = []
        for line in git(work, "diff", "--numstat", "-z", "--no-renames",
                        a, b).split("\0"):
            if line:
                added, _, path = line.split("\t", 2)
                out.append((path, added == "-"))
        return out

    # a file that is binary after the series is left out of every patch
    # (an expected table first added empty, then filled, too): the
    # source package has it from the start
    binaries = sorted(f for f, b in changed("base", "HEAD") if b)
    commits = git(work, "rev-list", "--reverse", "base..HEAD").split()
    kept, dropped = [], []
    for c, p in zip(commits, series):
        text, binary = [], []
        for f, _ in changed(c + "^", c):
            (binary if f in binaries else text).append(f)
        if not text:
            dropped.append(p)
            continue
        with open(os.path.join(out, p)) as f:
            full = f.read()
        head = full[:full.index("\n---\n") + 5]
        note = ""
        if binary:
            note = ("Debian: this copy leaves out the binary files of the patch, "
                    "which quilt\nand dpkg-source cannot apply; "
                    "debian/source/include-binaries lists\nthem, and the source "
                    "package carries them in its debian tarball,\nwith their "
                    "contents after the whole series:\n" +
                    "".join("  %s\n" % b for b in binary) + "\n")
        lit = ["--literal-pathspecs"]
        stat = subprocess.run(["git", "-C", work] + lit +
                              ["diff", "--stat=72", "--summary", "--no-renames", c + "^",
                               c, "--"] + text, env=GIT_ENV, capture_output=True,
                              text=True, check=True).stdout
        diff = subprocess.run(["git", "-C", work] + lit +
                              ["diff", "--no-renames", c + "^", c, "--"] + text,
                              env=GIT_ENV, capture_output=True, text=True,
                              check=True).stdout
        with open(os.path.join(kit, "patches", p), "w") as f:
            f.write(head + note + stat + "\n" + diff)
        kept.append(p)
    with open(os.path.join(kit, "patches", "series"), "w") as f:
        f.write("".join(p + "\n" for p in kept))
    for b in binaries:
        copy_in(os.path.join(work, b), os.path.join(kit, "binaries", b))
    with open(os.path.join(kit, "include-binaries"), "w") as f:
        f.write("".join(b + "\n" for b in binaries))
    with open(os.path.join(kit, "README"), "w") as f:
        f.write("""\
The series of make series (.build/series) for a Debian source package of
format 3.0 (quilt).

quilt and dpkg-source apply patches with GNU patch, which cannot apply git
binary patches.  Here the patches leave their binary files out, and the
files come with the source package instead:

  patches/            %d of the %d patches (left out, as they hold only
                      binary files: %s), and their series
  binaries/           the %d binary files, at their paths in the source
  include-binaries    their list, for debian/source/include-binaries

In an unpacked qemu source package (dpkg-source -x, Debian's patches
applied):

  cp patches/0*.patch SRC/debian/patches/
  cat patches/series >> SRC/debian/patches/series
  cp -a binaries/. SRC/
  cat include-binaries >> SRC/debian/source/include-binaries
  cd SRC && QUILT_PATCHES=debian/patches quilt push -a

dpkg-source -b then puts the binary files in the debian tarball, and
dpkg-source -x of the new source package applies everything.
""" % (len(kept), len(series), ", ".join(dropped) or "none", len(binaries)))
    print("series: for quilt and dpkg-source, %d patches and %d binary files in %s"
          % (len(kept), len(binaries), os.path.relpath(kit, TOP)))


def main():
    build_dir = os.environ.get("B", os.path.join(TOP, base_setting("BASE_BUILD")
                                                 or ".build"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=build_dir, help="the build directory (.build)")
    ap.add_argument("--out", help="where to write the series (BUILD/series)")
    ap.add_argument("--debian", help="where to write the series for quilt and "
                    "dpkg-source (BUILD/series-debian)")
    ap.add_argument("--work", help="the scratch git repository (BUILD/series-work)")
    ap.add_argument("--check-manifest", action="store_true",
                    help="only check that patches/manifest places every file")
    args = ap.parse_args()
    args.out = args.out or os.path.join(args.build, "series")
    args.debian = args.debian or os.path.join(args.build, "series-debian")
    args.work = args.work or os.path.join(args.build, "series-work")
    try:
        build(args)
    except SeriesError as e:
        sys.stderr.write("series: ERROR: %s\n" % e)
        sys.exit(1)


if __name__ == "__main__":
    main()
