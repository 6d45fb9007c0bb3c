#!/bin/sh
# Installs echinomap from this bundle on Debian 12 (amd64) with no network: apt installs it from
# debs/ (echinomap, what a minimal Debian 12 lacks for it, and that minimal system's packages in
# case this host has older ones), then the service starts when systemd runs, and the script says
# where to log in and how to get the first admin's password.
#
#   sudo ./install.sh
#
# Packages already installed are left as they are unless echinomap needs newer ones. PostgreSQL's
# packages are told not to create their default `main` cluster (echinomap runs its own, under
# /var/lib/echinomap): /etc/postgresql-common/createcluster.d/echinomap.conf.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

die() {
    echo "install.sh: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "run it as root: sudo ./install.sh"
[ "$(dpkg --print-architecture)" = amd64 ] || die "this bundle is for amd64, not $(dpkg --print-architecture)"
. /etc/os-release
[ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ] ||
    die "this bundle is for Debian 12; this is ${PRETTY_NAME:-an unknown system} (see OPERATIONS.md: the host is re-imaged with Debian 12)"
sha256sum --quiet -c SHA256SUMS || die "the bundle is damaged (SHA256SUMS does not match): copy it again"

# No `main` cluster from postgresql-common (read by pg_createcluster through createcluster.conf's
# include_dir); it stays for later PostgreSQL packages too.
mkdir -p /etc/postgresql-common/createcluster.d
if [ ! -e /etc/postgresql-common/createcluster.d/echinomap.conf ]; then
    cat >/etc/postgresql-common/createcluster.d/echinomap.conf <<'EOF'
# echinomap runs its own PostgreSQL cluster (/var/lib/echinomap/pg): no default `main` cluster.
create_main_cluster = false
EOF
fi

# apt, with the bundle's debs/ as its only source: it takes from there what this host lacks (and
# upgrades a package of the host only when one of them needs its newer version), in the right
# order; when something cannot be satisfied it stops before changing anything.
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
echo "deb [trusted=yes] file:$here/debs ./" >"$state/sources.list"
apt_offline() {
    DEBIAN_FRONTEND=noninteractive apt-get -q \
        -o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
        -o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" \
        -o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache="" \
        -o Acquire::Languages=none -o APT::Install-Recommends=false \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}
echo "installing echinomap from $here/debs with apt (no network)..."
apt_offline update >/dev/null || die "apt cannot read the bundle's repository (debs/Packages)"
apt_offline install -y echinomap ||
    die "apt failed (above); if it stopped before installing, nothing was changed: fix the cause and run ./install.sh again"

version=$(dpkg-query -W -f='${Version}' echinomap)
host=$(hostname -f 2>/dev/null || uname -n)
addresses=$(hostname -I 2>/dev/null || true)
echo
echo "echinomap $version is installed."
if [ -d /run/systemd/system ]; then
    systemctl is-active --quiet echinomap || systemctl start echinomap || true
    i=0
    while [ $i -lt 120 ] && ! journalctl -q -u echinomap -o cat 2>/dev/null | grep -q 'first start\|is serving on'; do
        sleep 1
        i=$((i + 1))
    done
    if systemctl is-active --quiet echinomap; then
        echo "  The service runs:       systemctl status echinomap"
    else
        echo "  The service did not start; why:  journalctl -u echinomap -n 50"
    fi
else
    echo "  systemd is not running here: start echinomap by hand as its unit would:"
    echo "    cd /var/lib/echinomap && setpriv --reuid=echinomap --regid=echinomap --init-groups \\"
    echo "        --inh-caps=+net_bind_service --ambient-caps=+net_bind_service \\"
    echo "        /usr/bin/echinomap serve --config /etc/echinomap/echinomap.toml"
fi
echo "  Log in at:              https://$host/"
for a in $addresses; do
    echo "                          https://$a/"
done
echo "  The admin's password:   cat /var/lib/echinomap/initial-admin-password  (log in as admin:"
echo "                          the first login asks for a new one, and the file goes)"
echo "  The certificate is self-signed for $host until you put the domain's in /etc/echinomap/tls/"
echo "  (fullchain.pem, privkey.pem) and run: systemctl reload echinomap"
echo "  Settings: /etc/echinomap/echinomap.toml   Operations: /usr/share/doc/echinomap/OPERATIONS.md"
