#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Read the sanitizer reports of make check-sanitizers and fail on ours.

The reports are the files that AddressSanitizer (with LeakSanitizer)
writes with log_path (asan.PID), and the tests' logs: UBSan, linked
beside ASan by gcc 12, writes to the process's stderr whatever
UBSAN_OPTIONS says, and QEMU's stderr is the test's log.
Each ASan error, each leak ("Direct leak of ..." or "Indirect leak of
..." with its stack) and each UBSan "runtime error" is one report.  A
report involves our code when one of its source locations is in a file
of this repository (our files, at QEMU's paths) or in a line that the
series adds to a QEMU file (the difference between the base and the
patched tree).  Those fail the run, and so does a report with no source
location in QEMU's tree at all, whose owner cannot be told; the others
are QEMU's own, listed once each.  Notices ("==PID==WARNING: ...") are counted, not reports.
"""

import argparse
import difflib
import os
import re
import sys

FRAME = re.compile(r'^\s*#\d+ 0x[0-9a-f]+ in (\S+) (\S+?):(\d+)(?::\d+)?$')
UBSAN = re.compile(r'^(\S+?):(\d+):\d+: runtime error: (.*)$')
HEADER = re.compile(r'^==\d+==(ERROR|WARNING): (.*)$')
LEAK = re.compile(r'^(Direct|Indirect) leak of .*$')


def split_reports(text):
    """(title, [(function, path, line)]) for each report in @text"""
    reports, notices = [], []
    cur = None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m and m.group(1) == 'WARNING':
            notices.append(m.group(2))
            continue
        if m:
            # "detected memory leaks" is followed by one block per leak
            cur = None
            if 'LeakSanitizer' not in m.group(2):
                cur = [m.group(2), []]
                reports.append(cur)
            continue
        m = LEAK.match(line)
        if m:
            cur = [line, []]
            reports.append(cur)
            continue
        m = UBSAN.match(line)
        if m:
            cur = ['UBSan: ' + m.group(3), [('', m.group(1), int(m.group(2)))]]
            reports.append(cur)
            continue
        m = FRAME.match(line)
        if m and cur is not None:
            cur[1].append((m.group(1), m.group(2), int(m.group(3))))
    return reports, notices


class Ours:
    """Whether a source location is our code"""

    def __init__(self, top, src, base, build):
        self.top, self.src, self.base, self.build = top, src, base, build
        self.added = {}

    def rel(self, path):
        if not os.path.isabs(path):
            path = os.path.join(self.build, path)
        rel = os.path.relpath(os.path.normpath(path), self.src)
        return None if rel.startswith('..') else rel

    def added_lines(self, rel):
        """The lines of .build/src/REL that the series adds"""
        if rel not in self.added:
            lines = set()
            try:
                with open(os.path.join(self.base, rel)) as f:
                    old = f.readlines()
                with open(os.path.join(self.src, rel)) as f:
                    new = f.readlines()
            except (OSError, UnicodeDecodeError):
                old = new = []
            sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
            for tag, _, _, j1, j2 in sm.get_opcodes():
                if tag in ('replace', 'insert'):
                    lines.update(range(j1 + 1, j2 + 1))
            self.added[rel] = lines
        return self.added[rel]

    def __call__(self, path, line):
        rel = self.rel(path)
        if rel is None:
            return False
        if os.path.isfile(os.path.join(self.top, rel)):
            return True
        return line in self.added_lines(rel)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--src', required=True, help='the patched tree')
    ap.add_argument('--base', required=True, help='the pristine base')
    ap.add_argument('--build', required=True, help='the build directory')
    ap.add_argument('--series', required=True, help='the repository\'s '
                    'patches/: the files of that repository are ours')
    ap.add_argument('reports', nargs='+', help='the directory of asan.*, '
                    'ubsan.*, and the tests\' logs')
    args = ap.parse_args()
    top = os.path.dirname(os.path.abspath(args.series))
    ours = Ours(top, os.path.abspath(args.src), os.path.abspath(args.base),
                os.path.abspath(args.build))

    mine, stock, notices = [], {}, {}
    paths = []
    for p in args.reports:
        if os.path.isdir(p):
            paths += [os.path.join(p, n) for n in sorted(os.listdir(p))]
        else:
            paths.append(p)
    names = [os.path.basename(p) for p in paths]
    for path in paths:
        name = os.path.basename(path)
        with open(path, errors='replace') as f:
            reports, nots = split_reports(f.read())
        for n in nots:
            notices[n] = notices.get(n, 0) + 1
        for title, frames in reports:
            hit = [fr for fr in frames if ours(fr[1], fr[2])]
            if not hit and not any(ours.rel(fr[1]) for fr in frames):
                # no frame in QEMU's tree: whose it is cannot be told
                hit = [('(no frame in the tree)', '?', 0)]
            if hit:
                mine.append((name, title, hit[0], frames))
            else:
                top_frame = frames[0] if frames else ('?', '?', 0)
                key = (title.split(' in ')[0], top_frame[0],
                       top_frame[1].split('/')[-1])
                stock[key] = stock.get(key, 0) + 1

    print('%d file(s) read; %d report(s) involve our code, %d do not'
          % (len(names), len(mine), sum(stock.values())))
    for n, count in sorted(notices.items()):
        print('notice (%d process(es)): %s' % (count, n[:100]))
    for name, title, (func, path, line), frames in mine:
        print('OURS  %s: %s' % (name, title))
        print('      at %s %s:%d' % (func or '-', ours.rel(path) or path,
                                     line))
        for fr in frames[:8]:
            print('        %s %s:%d' % (fr[0] or '-', fr[1], fr[2]))
    for (title, func, path), count in sorted(stock.items()):
        print('QEMU  %dx %s (%s, %s)' % (count, title, func, path))
    return 1 if mine else 0


if __name__ == '__main__':
    sys.exit(main())
