#!/usr/bin/env bash
# The offline bundle on a minimal Debian 12 with no network (not in `make test`: it needs
# debootstrap and the network to make the minimal system, about 3 minutes more).
#
#   tests/package/offline.sh target/debian/echinomap-bundle_<version>_amd64.tar.gz [CHROOT]
#
# Makes CHROOT with `debootstrap --variant=minbase bookworm` (or reuses one made before), then, in
# a new network namespace where only the loopback exists (unshare -n: no route to any mirror),
# runs the bundle's install.sh in it, starts the installed echinomap as its unit does (as the
# user echinomap, the installed configuration and the certificate the postinst made; other
# ports, since there is no systemd to give it port 443), asks /healthz over HTTPS with openssl,
# writes a backup, stops it and purges the package. Needs root.
set -euo pipefail

bundle=$(realpath "${1:?usage: offline.sh BUNDLE.tar.gz [CHROOT]}")
chroot_dir=${2:-/var/tmp/echinomap-minbase}
[ "$(id -u)" -eq 0 ] || { echo "offline.sh: needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "offline.sh: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }

if [ ! -x "$chroot_dir/usr/bin/dpkg" ]; then
    echo "== offline: debootstrap --variant=minbase bookworm $chroot_dir"
    debootstrap --variant=minbase bookworm "$chroot_dir" http://deb.debian.org/debian >"$chroot_dir.debootstrap.log" 2>&1 ||
        { tail -n 20 "$chroot_dir.debootstrap.log"; exit 1; }
fi
echo "== offline: packages in the minimal system: $(chroot "$chroot_dir" dpkg-query -W | wc -l)"
rm -rf "$chroot_dir/root/bundle"
mkdir -p "$chroot_dir/root/bundle"
tar -C "$chroot_dir/root/bundle" -xzf "$bundle"
dir=$(basename "$bundle" .tar.gz)

# Inside: a private mount namespace (proc, a tmpfs /dev/shm for PostgreSQL) and no network.
unshare --net --mount --propagation private -- bash -euo pipefail -c '
    root=$1 dir=$2
    ip link set lo up 2>/dev/null || true
    mount -t proc proc "$root/proc"
    mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" 2>/dev/null || true
    chroot "$root" /bin/bash -euo pipefail -c "
        echo \"== offline: network: \$(cat /proc/net/route | wc -l) route lines (1 = none)\"
        if (cd /tmp && apt-get -q -o Acquire::http::Timeout=5 download base-files >/dev/null 2>&1); then
            echo \"the chroot reaches a mirror: not an offline test\" >&2; exit 1
        fi
        cd /root/bundle/$dir
        ./install.sh
        cd /var/lib/echinomap
        runuser -u echinomap -- env ECHINOMAP_LISTEN=127.0.0.1:8443 ECHINOMAP_REDIRECT_LISTEN=127.0.0.1:8080 \
            /usr/bin/echinomap serve --config /etc/echinomap/echinomap.toml >/tmp/serve.log 2>&1 &
        pid=\$!
        ok=no
        for i in \$(seq 1 120); do
            if printf \"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n\" |
                openssl s_client -quiet -connect 127.0.0.1:8443 -servername localhost \
                    -CAfile /etc/echinomap/tls/fullchain.pem -verify_return_error -verify_hostname localhost 2>/dev/null >/tmp/healthz; then
                grep -q \"^HTTP/1.1 200\" /tmp/healthz && { ok=yes; break; }
            fi
            sleep 1
        done
        [ \$ok = yes ] || { cat /tmp/serve.log; echo \"no HTTPS /healthz\" >&2; kill \$pid; exit 1; }
        echo \"== offline: HTTPS /healthz (postinst certificate): \$(tail -n 1 /tmp/healthz)\"
        runuser -u echinomap -- /usr/bin/echinomap backup 2>/dev/null
        runuser -u echinomap -- /usr/bin/echinomap doctor 2>/dev/null | tail -n 25 || true
        kill -TERM \$pid
        wait \$pid || true
        ECHINOMAP_PURGE_DATA=yes dpkg --purge echinomap
    "
' offline "$chroot_dir" "$dir"
echo "== offline: passed (remove the minimal system with: rm -rf $chroot_dir)"
