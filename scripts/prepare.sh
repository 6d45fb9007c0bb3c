#!/usr/bin/env bash
# Installs what echinomap needs to build, run and test, on Debian/Ubuntu. As root it installs
# missing packages with apt-get; otherwise it prints the exact command and stops.
# Idempotent and quiet when everything is there. Used by `make run`, `make test` and .ci/run.
# `--test` adds what the browser tests need (Debian's chromium and the Noto CJK fonts) and what
# the package test needs (dpkg-dev, nginx).
set -euo pipefail
for_tests=false
[ "${1:-}" = "--test" ] && for_tests=true

missing=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || missing+=("$1"); }

# PostgreSQL server + PostGIS for the same major version.
pg_major=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && pg_major=$(basename "$(dirname "$d")")
done
if [ -z "$pg_major" ]; then
  need_pkg postgresql
else
  [ -f "/usr/share/postgresql/$pg_major/extension/postgis.control" ] || need_pkg "postgresql-$pg_major-postgis-3"
fi
command -v cc >/dev/null || need_pkg build-essential
command -v pkg-config >/dev/null || need_pkg pkg-config
# GDAL's ogrinfo reads the exports and the OGC API in the tests, as QGIS would.
command -v ogrinfo >/dev/null || need_pkg gdal-bin
# The web app (web/) is built with npm; Debian 12's nodejs 18 is enough (see web/README.md).
command -v node >/dev/null || need_pkg nodejs
command -v npm >/dev/null || need_pkg npm
if $for_tests; then
  [ -x /usr/bin/chromium ] || need_pkg chromium
  need_font() { dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "install ok installed" || missing+=(fonts-noto-cjk); }
  need_font
  # tests/package/run.sh: the Debian package (dpkg-deb, dpkg-shlibdeps, strip) and nginx in
  # front of it (packaging/nginx/echinomap.conf); nginx is run from a temporary prefix only.
  command -v dpkg-shlibdeps >/dev/null || need_pkg dpkg-dev
  command -v strip >/dev/null || need_pkg binutils
  [ -x /usr/sbin/nginx ] || need_pkg nginx-light
fi

install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "echinomap needs these packages: $*" >&2
    echo "install them with:  sudo apt-get install -y $*" >&2
    exit 1
  fi
  echo "installing: $*" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ ${#missing[@]} -gt 0 ]; then
  install "${missing[@]}"
fi

# A fresh PostgreSQL install names its major only now: add the matching PostGIS.
if [ -z "$pg_major" ]; then
  for d in /usr/lib/postgresql/*/bin; do pg_major=$(basename "$(dirname "$d")"); done
  [ -f "/usr/share/postgresql/$pg_major/extension/postgis.control" ] || install "postgresql-$pg_major-postgis-3"
fi

# The embedded cluster runs as `postgres` when we are root; Debian's package creates it.
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "the unprivileged 'postgres' system user is missing (Debian's postgresql package creates it)" >&2
  exit 1
fi

command -v cargo >/dev/null || { echo "cargo (Rust) is missing: install it with rustup" >&2; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || { echo "Node.js 18 or later is needed to build web/ (found $(node --version))" >&2; exit 1; }
