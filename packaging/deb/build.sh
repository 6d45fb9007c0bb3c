#!/usr/bin/env bash
# Builds target/debian/echinomap_<version>_amd64.deb from a binary cargo already built
# (`make deb`: the release binary; `make deb PROFILE=debug`: the one the test suite built).
#
#   PROFILE=release|debug   which target/<profile>/echinomap to package (default release)
#   VERSION=…               the package's version (default: the workspace's version in Cargo.toml,
#                           which the binary must print); the package test sets a higher one
#   STRIP=no                keep the debug information (default: stripped, as Debian does;
#                           the symbols stay, so a backtrace still names its functions)
#   COMPRESS=xz|gzip|none   dpkg-deb's compression (default xz; gzip is faster for tests)
#
# Needs dpkg-deb and dpkg-shlibdeps (dpkg-dev) and binutils' strip.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
profile=${PROFILE:-release}
bin=$root/target/$profile/echinomap
[ -x "$bin" ] || {
    echo "error: $bin is missing: build it first (cargo build$([ "$profile" = release ] && echo ' --release') -p echinomap-server)" >&2
    exit 1
}

cargo_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml")
binary_version=$("$bin" --version | awk '{print $2}')
if [ "$binary_version" != "$cargo_version" ]; then
    echo "error: $bin is version $binary_version but Cargo.toml says $cargo_version: rebuild it" >&2
    exit 1
fi
version=${VERSION:-$cargo_version}

out=$root/target/debian
stage=$out/stage-$profile
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/echinomap" \
    "$stage/usr/share/doc/echinomap/examples/nginx"

install -m 0755 "$bin" "$stage/usr/bin/echinomap"
if [ "${STRIP:-yes}" != no ]; then
    strip --strip-debug "$stage/usr/bin/echinomap"
fi
install -m 0644 "$root"/packaging/systemd/echinomap.service \
    "$root"/packaging/systemd/echinomap-backup.service \
    "$root"/packaging/systemd/echinomap-backup.timer "$stage/lib/systemd/system/"
install -m 0644 "$root/packaging/echinomap.toml" "$stage/etc/echinomap/echinomap.toml"
install -m 0644 "$root/packaging/nginx/echinomap.conf" "$stage/usr/share/doc/echinomap/examples/nginx/"
install -m 0644 "$root/README.md" "$stage/usr/share/doc/echinomap/"
for doc in OPERATIONS.md SECURITY.md; do
    [ -f "$root/docs/$doc" ] && install -m 0644 "$root/docs/$doc" "$stage/usr/share/doc/echinomap/"
done
cat >"$stage/usr/share/doc/echinomap/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: echinomap

Files: *
License: MIT or Apache-2.0
EOF

# The shared libraries the binary links (libc6, libgcc-s1) with the lowest versions its symbols
# need, as Debian's own packages compute them.
shlibs=$(
    cd "$stage"
    mkdir -p debian && printf 'Source: echinomap\n\nPackage: echinomap\nArchitecture: amd64\n' >debian/control
    dpkg-shlibdeps -O usr/bin/echinomap 2>/dev/null | sed -n 's/^shlibs:Depends=//p'
    rm -rf debian
)
[ -n "$shlibs" ] || { echo "error: dpkg-shlibdeps found no library dependencies" >&2; exit 1; }

install -m 0755 "$root"/packaging/deb/postinst "$root"/packaging/deb/prerm "$root"/packaging/deb/postrm "$stage/DEBIAN/"
install -m 0644 "$root/packaging/deb/conffiles" "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$size/" -e "s/@SHLIBS_DEPENDS@/$shlibs/" \
    -e "s/@MAINTAINER@/${MAINTAINER:-echinomap maintainers <echinomap@localhost>}/" \
    "$root/packaging/deb/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find usr lib etc -type f ! -path etc/echinomap/echinomap.toml -exec md5sum {} + >DEBIAN/md5sums)

case "${COMPRESS:-xz}" in
xz) z=(-Zxz) ;;
gzip) z=(-Zgzip -z1) ;;
none) z=(-Znone) ;;
*) echo "error: COMPRESS must be xz, gzip or none" >&2; exit 1 ;;
esac
deb=$out/echinomap_${version}_amd64.deb
dpkg-deb --root-owner-group "${z[@]}" --build "$stage" "$deb" >/dev/null
rm -rf "$stage"
echo "$deb"
