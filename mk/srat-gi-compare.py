#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""srat-gi-compare.py OURS UPSTREAM: compare the Generic Initiator Affinity
Structures (type 5) of two SRAT tables.

Passes when both have the same set of GI structures, byte for byte, and
the GI structures sit at the same place among the other structures (the
sequence of structure types is the same once each run of GI structures is
collapsed).  The order within the GI run is not compared.
"""

import sys

GI_TYPE = 5
SRAT_HEADER = 48   # 36-byte table header + 12 reserved bytes


def structures(path):
    with open(path, "rb") as f:
        t = f.read()
    assert t[:4] == b"SRAT", path + ": not a SRAT"
    length = int.from_bytes(t[4:8], "little")
    out, off = [], SRAT_HEADER
    while off < length:
        slen = t[off + 1]
        assert slen, path + ": zero-length structure"
        out.append(t[off:off + slen])
        off += slen
    return out


def shape(structs):
    types = []
    for s in structs:
        if s[0] == GI_TYPE and types and types[-1] == "GI":
            continue
        types.append("GI" if s[0] == GI_TYPE else s[0])
    return types


def main():
    ours, up = structures(sys.argv[1]), structures(sys.argv[2])
    ok = True
    gi_ours = sorted(s for s in ours if s[0] == GI_TYPE)
    gi_up = sorted(s for s in up if s[0] == GI_TYPE)
    if not gi_ours:
        print("  no GI structure in " + sys.argv[1])
        ok = False
    if gi_ours != gi_up:
        print("  GI structures differ:")
        for s in gi_ours:
            print("    ours     " + s.hex())
        for s in gi_up:
            print("    upstream " + s.hex())
        ok = False
    if shape(ours) != shape(up):
        print("  GI structures placed differently:")
        print("    ours     %s" % shape(ours))
        print("    upstream %s" % shape(up))
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
