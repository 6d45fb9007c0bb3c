#!/usr/bin/env bash
# Builds target/debian/echinomap-bundle_<version>_amd64.tar.gz (`make bundle`): echinomap's
# package, every Debian package it needs that a minimal Debian 12 (debootstrap --variant=minbase:
# the Essential and Priority: required packages and what they depend on) lacks, that minimal
# system's own packages at the versions the others were resolved against (an older Debian 12 host
# may need some of them upgraded), as a flat apt repository, and install.sh, which installs
# echinomap from it with apt on a host with no network.
#
# The closure is apt's own resolution, not a guess: apt-get simulates installing the package on a
# system whose dpkg status holds exactly the minimal Debian 12, as apt resolves it from this
# machine's package lists (so alternatives and virtual packages are chosen as apt would), and
# `apt-get download` fetches the versions it chose. Run it on Debian 12 (amd64) with its lists
# up to date (apt-get update) and network to its mirror.
#
#   PROFILE, VERSION   as for packaging/deb/build.sh (which package to bundle)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cargo_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml")
version=${VERSION:-$cargo_version}
out=$root/target/debian
deb=$out/echinomap_${version}_amd64.deb
[ -f "$deb" ] || { echo "error: $deb is missing: run make deb first" >&2; exit 1; }
. /etc/os-release
[ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ] || {
    echo "error: the bundle is made on Debian 12, whose packages it carries (this is ${PRETTY_NAME:-unknown})" >&2
    exit 1
}

name=echinomap-bundle_${version}_amd64
work=$out/bundle-work
rm -rf "$work"
mkdir -p "$work/$name/debs"
apt_sim() { # status-file packages…
    local status=$1
    shift
    apt-get -s -q -o Dir::State::status="$status" -o Debug::NoLocking=1 \
        -o APT::Install-Recommends=false -o APT::Install-Suggests=false install "$@" |
        sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1 \2/p'
}

# 1. A minimal Debian 12, as apt resolves Essential + required from an empty system. Like
# debootstrap, with a merged /usr (usr-is-merged): apt alone would pick the alternative usrmerge,
# which pulls perl in, and the bundle would then lack perl. (Checked against a real
# debootstrap --variant=minbase bookworm: the same 88 packages; tests/package/offline.sh.)
: >"$work/status.empty"
mapfile -t required < <(apt-cache dumpavail | awk -v RS= '
    /\nArchitecture: (amd64|all)\n/ && (/\nEssential: yes\n/ || /\nPriority: required\n/) {
        match($0, /^Package: [^\n]*/); print substr($0, 10, RLENGTH - 9)
    }' | sort -u)
required+=(usr-is-merged)
apt_sim "$work/status.empty" "${required[@]}" >"$work/base.list"
[ "$(wc -l <"$work/base.list")" -gt 50 ] || { echo "error: could not resolve a minimal Debian 12 from apt's lists" >&2; exit 1; }
# Its dpkg status: each package's stanza at the version apt chose, installed.
while read -r pkg ver; do
    apt-cache show "$pkg=$ver" | awk -v RS= 'NR == 1' | sed '1a Status: install ok installed'
    echo
done <"$work/base.list" >"$work/status.base"

# 2. What installing echinomap adds to it.
apt_sim "$work/status.base" "$deb" | grep -v '^echinomap ' >"$work/closure.list"
grep -q '^postgresql-15-postgis-3 ' "$work/closure.list" || { echo "error: the closure has no PostGIS; is apt's list up to date?" >&2; exit 1; }

# 3. Fetch them (apt's cache or the mirror), with the minimal system's own packages at the same
# versions: a host installed from an older Debian 12 image has older ones (perl-base, libc6 …),
# and a package of the closure may need the newer one (perl needs perl-base of its own version).
# install.sh lets apt take from this local repository only what the host lacks.
(
    cd "$work/$name/debs"
    chmod 0777 .  # apt's sandbox user writes the downloads
    # shellcheck disable=SC2046
    apt-get download -q $(cat "$work/closure.list" "$work/base.list" | awk '{print $1 "=" $2}') >/dev/null
)
cp "$deb" "$work/$name/debs/"
# A flat apt repository (unsigned: install.sh marks it trusted, it came with the bundle).
(
    cd "$work/$name/debs"
    dpkg-scanpackages . /dev/null 2>/dev/null >Packages
    {
        echo "Origin: echinomap"
        echo "Label: echinomap offline bundle"
        echo "Suite: echinomap-bundle"
        echo "Codename: echinomap-bundle"
        echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
        echo "Architectures: amd64 all"
        echo "SHA256:"
        echo " $(sha256sum Packages | cut -d' ' -f1) $(stat -c %s Packages) Packages"
    } >Release
)
install -m 0755 "$root/packaging/install.sh" "$work/$name/install.sh"
(cd "$work/$name" && sha256sum debs/*.deb debs/Packages debs/Release install.sh >SHA256SUMS)
cat >"$work/$name/README.txt" <<EOF
echinomap $version for Debian 12 (amd64), offline installation.

  sudo ./install.sh

installs echinomap with apt from the $(ls "$work/$name/debs" | grep -c '\.deb$') packages in debs/ (no network; apt takes
only what this host lacks), starts the service and prints where to log in and how to get the
admin's password. Then read /usr/share/doc/echinomap/OPERATIONS.md.
EOF
chmod 0755 "$work/$name/debs"
tar -C "$work" -czf "$out/$name.tar.gz" "$name"
rm -rf "$work"
echo "$out/$name.tar.gz"
