#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mk/overlay-files.sh TOP BASE
#
# Print the repository's new QEMU files (the overlay), one path per line,
# relative to TOP, sorted: every regular file and symbolic link under a
# top-level entry of TOP that also exists in the base tree BASE (hw/,
# include/, tests/, docs/, qapi/ ...), except the Makefile and Python
# byte code (__pycache__).  The overlay uses 10.0's names: an entry that
# the base (mk/bases/$BASE.env, BASE_PATH_MAP) spells otherwise counts
# when the base has it under its own name (system/ is 7.2's softmmu/).
# The rest of the harness (mk/, .ci/, README.md, patches/, baseline/) is
# not overlay: QEMU has no such top-level entries.
#
# mk/prepare.sh copies these files into the build tree, at base_path();
# mk/series.py puts each in the patch that patches/BASE/manifest names.
set -eu

[ $# -eq 2 ] || { echo "usage: $0 TOP BASE" >&2; exit 2; }
top=$1
base=$2
B=${B:-unused}
. "$top/mk/base.env"

for e in "$top"/*; do
    n=$(basename "$e")
    [ "$n" = Makefile ] && continue
    m=$(base_path "$n/")
    [ -e "$base/$m" ] || continue
    (cd "$top" && find "$n" \( -type f -o -type l \) ! -path '*/__pycache__/*')
done | LC_ALL=C sort
