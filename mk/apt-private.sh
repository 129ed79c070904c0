# SPDX-License-Identifier: GPL-2.0-or-later
#
# A private apt configuration, sourced by mk/prepare.sh and mk/assets.sh.
# Its lists, cache and (empty) dpkg status live in one directory, so the
# machine's own apt setup, dpkg database and architectures are neither read
# nor changed, root is not needed, and a Debian 12 host can fetch from
# Debian 13 (and the reverse).
#
#   apt_private DIR apt-get|apt-cache ARG...
#       run the tool with the configuration in DIR;
#   apt_private_update DIR SOURCES [PREFERENCES]
#       write SOURCES (sources.list lines) and PREFERENCES (apt_preferences
#       stanzas) and fetch the lists, unless the same sources were fetched
#       less than an hour ago.

APT_PRIVATE_MIRROR=${ASSETS_MIRROR:-http://deb.debian.org/debian}
APT_PRIVATE_SECMIRROR=${ASSETS_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
APT_PRIVATE_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

apt_private() {
    _ap_dir=$1 _ap_tool=$2
    shift 2
    # the host's architecture, and arm64 for the Arm guests' kernel
    "$_ap_tool" -q -o Dir::Etc::SourceList="$_ap_dir/etc/sources.list" \
        -o Dir::Etc::SourceParts="$_ap_dir/etc/parts" \
        -o Dir::Etc::Preferences="$_ap_dir/etc/preferences" \
        -o Dir::Etc::PreferencesParts="$_ap_dir/etc/prefparts" \
        -o Dir::State::Lists="$_ap_dir/lists" -o Dir::Cache="$_ap_dir/cache" \
        -o Dir::State::status="$_ap_dir/status" \
        -o APT::Architecture="$(dpkg --print-architecture)" \
        -o APT::Architectures::="$(dpkg --print-architecture)" \
        -o APT::Architectures::=arm64 -o Acquire::Languages=none "$@"
}

apt_private_update() {
    _ap_dir=$1 _ap_sources=$2 _ap_prefs=${3:-}
    [ -f "$_ap_dir/updated" ] &&
        [ -z "$(find "$_ap_dir/updated" -mmin +60)" ] &&
        [ "$(cat "$_ap_dir/etc/sources.list" 2>/dev/null)" = "$_ap_sources" ] &&
        [ "$(cat "$_ap_dir/etc/preferences" 2>/dev/null)" = "$_ap_prefs" ] &&
        return 0
    rm -f "$_ap_dir/updated"
    mkdir -p "$_ap_dir/lists/partial" "$_ap_dir/cache/archives/partial" \
        "$_ap_dir/etc/parts" "$_ap_dir/etc/prefparts"
    : > "$_ap_dir/status"
    echo "$_ap_sources" > "$_ap_dir/etc/sources.list"
    echo "$_ap_prefs" > "$_ap_dir/etc/preferences"
    if ! apt_private "$_ap_dir" apt-get update > "$_ap_dir/update.log" 2>&1; then
        cat "$_ap_dir/update.log" >&2
        echo "apt-get update (private configuration in $_ap_dir) failed" >&2
        return 1
    fi
    touch "$_ap_dir/updated"
}
