#!/usr/bin/env bash
# The Debian package end to end, on this machine (in `make test`, after the cargo tests; needs
# root, takes about a minute). It builds the package from the debug binary the suite built,
# installs it with dpkg, checks what the postinst made, verifies the units, starts the installed
# binary the way echinomap.service does (its ExecStart, as the echinomap user, the installed
# configuration; only the ports and the certificate come from the environment), then:
#   HTTPS /healthz with a certificate made here, HSTS, the redirect from plain HTTP; a new
#     certificate served after the unit's ExecReload (SIGHUP);
#   a backup by the installed binary (the timer's command) and one with the implicit config;
#   an upgrade: a package with a higher version over the running one stops it, migrates, and the
#     data is still there;
#   packaging/nginx/echinomap.conf in front of echinomap: HTTPS through nginx, and the login
#     throttle counts the X-Forwarded-For client, not nginx (when nginx is installed);
#   dpkg --purge stops what runs, leaves no process of the user, removes the user and
#     /etc/echinomap, keeps /var/lib/echinomap.
# Whatever happens, the machine is left as it was found: everything is purged on exit.
# It refuses to run on a machine where echinomap is installed for real.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
marker=/var/tmp/echinomap-package-test.marker
upgrade_version=0.1.0+pkgtest2

say() { printf '== package: %s\n' "$*"; }
fail() {
    printf 'FAILED (package): %s\n' "$*" >&2
    exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    say "SKIPPED: installing a package needs root (run make test as root, as CI does)"
    exit 0
fi

installed() { dpkg-query -W -f='${Status}' echinomap 2>/dev/null | grep -q 'ok installed\|ok unpacked\|config-files\|half'; }

started_pids=()
tmp=""
uid=""
cleanup() {
    local status=$?
    set +e
    # Our own processes first (echinomap stops its PostgreSQL cluster on SIGTERM).
    for pid in "${started_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${started_pids[@]}"; do
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -KILL "$pid" 2>/dev/null
    done
    # An interrupted run's nginx, by the pid file it wrote.
    if [ -n "$tmp" ] && [ -f "$tmp/nginx/nginx.pid" ]; then
        pid=$(cat "$tmp/nginx/nginx.pid")
        case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in */nginx) kill -TERM "$pid" ;; esac
    fi
    if installed; then
        ECHINOMAP_PURGE_DATA=yes dpkg --purge echinomap >/dev/null 2>&1
    fi
    rm -rf /var/lib/echinomap /etc/echinomap
    getent passwd echinomap >/dev/null && userdel echinomap
    getent group echinomap >/dev/null && groupdel echinomap
    rm -f "$root/target/debian/echinomap_${upgrade_version}_amd64.deb"
    [ -n "$tmp" ] && rm -rf "$tmp"
    rm -f "$marker"
    if [ $status -ne 0 ]; then
        echo "FAILED (package): see the output above" >&2
    fi
    exit $status
}

# A run killed before its cleanup left its marker: clean up after it. Anything else named
# echinomap on this machine is a real installation: leave it alone.
if [ -e "$marker" ]; then
    say "cleaning up after an interrupted run"
    tmp=$(cat "$marker")
    case "$tmp" in /tmp/echinomap-package.*) ;; *) tmp="" ;; esac
    (cleanup)
    tmp=""
fi
if installed || getent passwd echinomap >/dev/null || [ -e /var/lib/echinomap ] || [ -e /etc/echinomap ]; then
    fail "echinomap is installed on this machine (package, user, /var/lib/echinomap or /etc/echinomap): the package test would replace it"
fi
touch "$marker"
trap cleanup EXIT
tmp=$(mktemp -d /tmp/echinomap-package.XXXXXX)
chmod 0755 "$tmp"
echo "$tmp" >"$marker"
started=$(date +%s)

# --- Build --------------------------------------------------------------------------------------
say "building the packages (debug binary)"
deb=$(make -s -C "$root" deb PROFILE=debug COMPRESS=gzip | tail -n 1)
[ -f "$deb" ] || fail "make deb did not name a package: $deb"
deb2=$(cd "$root" && PROFILE=debug COMPRESS=gzip VERSION=$upgrade_version packaging/deb/build.sh | tail -n 1)
depends=$(dpkg-deb -f "$deb" Depends)
grep -Eq '^libc6 \(>= [0-9.]+\), libgcc-s1 \(>= [0-9.]+\), postgresql-15, postgresql-15-postgis-3, openssl, passwd$' <<<"$depends" ||
    fail "the package's Depends: $depends"
dpkg-deb -c "$deb" >"$tmp/contents"
grep -q ' ./usr/bin/echinomap$' "$tmp/contents" || fail "no /usr/bin/echinomap in the package"

# --- Install ------------------------------------------------------------------------------------
say "dpkg -i $(basename "$deb")"
dpkg -i "$deb" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "dpkg -i failed"; }
uid=$(id -u echinomap) || fail "the postinst made no user echinomap"
[ "$(getent passwd echinomap | cut -d: -f6)" = /var/lib/echinomap ] || fail "echinomap's home is not /var/lib/echinomap"
check_mode() { # path owner:group mode
    local got
    got=$(stat -c '%U:%G %a' "$1") || fail "$1 is missing"
    [ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
}
check_mode /var/lib/echinomap echinomap:echinomap 750
check_mode /var/lib/echinomap/backups echinomap:echinomap 750
check_mode /etc/echinomap/secrets.toml echinomap:echinomap 600
check_mode /etc/echinomap/echinomap.toml root:root 644
check_mode /etc/echinomap/tls/privkey.pem root:echinomap 640
check_mode /etc/echinomap/tls/fullchain.pem root:echinomap 644
dpkg-query -W -f='${Conffiles}\n' echinomap | grep -q '/etc/echinomap/echinomap.toml' || fail "echinomap.toml is not a conffile"
# The self-signed certificate the postinst made for this host is a valid pair.
[ "$(openssl x509 -in /etc/echinomap/tls/fullchain.pem -noout -pubkey)" = "$(openssl pkey -in /etc/echinomap/tls/privkey.pem -pubout)" ] ||
    fail "the postinst's certificate and key do not match"
for unit in echinomap.service echinomap-backup.service echinomap-backup.timer; do
    [ -f /lib/systemd/system/$unit ] || fail "no $unit installed"
done
[ -L /etc/systemd/system/multi-user.target.wants/echinomap.service ] || fail "echinomap.service is not enabled"
[ -L /etc/systemd/system/timers.target.wants/echinomap-backup.timer ] || fail "echinomap-backup.timer is not enabled"
if command -v systemd-analyze >/dev/null; then
    say "systemd-analyze verify"
    systemd-analyze verify /lib/systemd/system/echinomap.service /lib/systemd/system/echinomap-backup.service \
        /lib/systemd/system/echinomap-backup.timer 2>&1 | tee "$tmp/verify.log"
    [ ! -s "$tmp/verify.log" ] || fail "systemd-analyze verify complained"
    security=$(systemd-analyze security --offline=true /lib/systemd/system/echinomap.service 2>/dev/null | tail -n 1 || true)
    [ -z "$security" ] || say "systemd-analyze security: $security"
else
    say "systemd-analyze is not installed: units not verified"
fi

# --- Run as the unit does -----------------------------------------------------------------------
picked=" "
free_port() { # VAR: a port nothing listens on, not handed out before in this run
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        case "$picked" in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            picked="$picked$p "
            printf -v "$1" '%s' "$p"
            return 0
        fi
    done
}
free_port https_port
free_port http_port
# A certificate for localhost, made here, readable by the service user like the installed one.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
chgrp echinomap "$tmp/key.pem"
chmod 0640 "$tmp/key.pem"
chmod 0644 "$tmp/cert.pem"

# echinomap.service's ExecStart, as systemd runs it: the user's ids (setpriv execs, as systemd
# does, no PAM session), its home, a clean environment, in the working directory of the unit.
exec_start() { sed -n 's/^ExecStart=//p' "/lib/systemd/system/$1"; }
service_env() { # VAR=value …: the command prefix that runs a command as the unit would
    svc=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/var/lib/echinomap
        USER=echinomap LOGNAME=echinomap SHELL=/usr/sbin/nologin LANG=C.UTF-8 "$@"
        setpriv --reuid=echinomap --regid=echinomap --init-groups --)
}
as_service() { # VAR=value … -- command …: in the foreground
    local vars=()
    while [ "$1" != -- ]; do vars+=("$1"); shift; done
    shift
    service_env "${vars[@]}"
    (cd /var/lib/echinomap && exec "${svc[@]}" "$@")
}
server_pid=""
serve_in_background() { # log VAR=value … -- command …: $server_pid is echinomap itself
    local log=$1 vars=()
    shift
    while [ "$1" != -- ]; do vars+=("$1"); shift; done
    shift
    service_env "${vars[@]}"
    (cd /var/lib/echinomap && exec "${svc[@]}" "$@") >"$log" 2>&1 &
    server_pid=$!
    started_pids+=("$server_pid")
}
start_service() { # log VAR=value …: echinomap.service's ExecStart
    local log=$1
    shift
    # shellcheck disable=SC2046
    serve_in_background "$log" "$@" -- $(exec_start echinomap.service)
}
wait_healthy() { # url curl-options…
    local url=$1
    shift
    for _ in $(seq 1 180); do
        if curl -fsS "$@" "$url" -o "$tmp/healthz.json" 2>/dev/null; then return 0; fi
        kill -0 "$server_pid" 2>/dev/null || { cat "$tmp"/serve*.log; fail "echinomap exited before it answered $url"; }
        sleep 1
    done
    cat "$tmp"/serve*.log
    fail "no answer at $url after 180 s"
}
user_processes() { # the pids of the service user's processes
    local dir out=""
    for dir in /proc/[0-9]*; do
        [ "$(stat -c %u "$dir" 2>/dev/null)" = "$uid" ] && out="$out ${dir#/proc/}"
    done
    echo "$out"
}
# SIGTERM to echinomap alone (the unit's KillMode=mixed): it stops its cluster itself.
stop_service() {
    kill -TERM "$server_pid"
    for _ in $(seq 1 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 1; done
    ! kill -0 "$server_pid" 2>/dev/null || fail "echinomap did not stop within 60 s of SIGTERM"
    local left
    for _ in $(seq 1 20); do
        left=$(user_processes)
        [ -n "$left" ] || return 0
        sleep 0.5
    done
    # shellcheck disable=SC2086
    ps -o pid,args -p "$(echo $left | tr ' ' ,)" >&2 || true
    fail "processes of the service user outlived echinomap by 10 s:$left"
}

say "starting: $(exec_start echinomap.service) (as echinomap, HTTPS on $https_port, redirect on $http_port)"
tls_env=(ECHINOMAP_LISTEN=127.0.0.1:$https_port ECHINOMAP_REDIRECT_LISTEN=127.0.0.1:$http_port
    ECHINOMAP_TLS_CERT=$tmp/cert.pem ECHINOMAP_TLS_KEY=$tmp/key.pem)
start_service "$tmp/serve1.log" "${tls_env[@]}"
base=https://localhost:$https_port
wait_healthy "$base/healthz" --cacert "$tmp/cert.pem"
grep -q '"version"' "$tmp/healthz.json" || fail "/healthz has no version: $(cat "$tmp/healthz.json")"
say "HTTPS /healthz answers: $(head -c 200 "$tmp/healthz.json")"
curl -fsS --cacert "$tmp/cert.pem" -D "$tmp/headers" -o /dev/null "$base/healthz"
grep -qi '^strict-transport-security: max-age=31536000' "$tmp/headers" || fail "no HSTS header over HTTPS"
location=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H "Host: localhost:$http_port" \
    "http://127.0.0.1:$http_port/api/villages?x=1")
[ "$location" = "308 https://localhost:$https_port/api/villages?x=1" ] || fail "plain HTTP answered: $location"
grep -q 'first start: created the user `admin`' "$tmp/serve1.log" ||
    fail "the first start did not say that it created the admin (install.sh points the operator to it)"
# install.sh tells the operator to read the first admin's password from this file.
check_mode /var/lib/echinomap/initial-admin-password echinomap:echinomap 600
admin_password=$(head -n 1 /var/lib/echinomap/initial-admin-password)
grep -q '/etc/echinomap/echinomap.toml' "$tmp/serve1.log" || fail "the log does not say which configuration was read"
[ -d /var/lib/echinomap/pg ] || fail "no embedded cluster in /var/lib/echinomap/pg"
[ "$(stat -c %U /var/lib/echinomap/pg)" = echinomap ] || fail "the cluster is not the service user's"

login() { # curl-options… : prints the status
    curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "$@"
}
[ "$(login --cacert "$tmp/cert.pem" -d "{\"username\":\"admin\",\"password\":\"$admin_password\"}" "$base/api/auth/login")" = 200 ] ||
    fail "the admin cannot log in with the first start's password"

# --- A new certificate: `systemctl reload echinomap` (ExecReload: SIGHUP) ---------------------
exec_reload=$(sed -n 's/^ExecReload=//p' /lib/systemd/system/echinomap.service)
[ "$exec_reload" = '/bin/kill -HUP $MAINPID' ] || fail "ExecReload is not a SIGHUP: $exec_reload"
cp "$tmp/cert.pem" "$tmp/old-cert.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' -keyout "$tmp/key.new" -out "$tmp/cert.new" 2>/dev/null
chgrp echinomap "$tmp/key.new"
chmod 0640 "$tmp/key.new"
chmod 0644 "$tmp/cert.new"
mv "$tmp/key.new" "$tmp/key.pem"
mv "$tmp/cert.new" "$tmp/cert.pem"
/bin/kill -HUP "$server_pid"
for _ in $(seq 1 20); do
    curl -fsS --cacert "$tmp/cert.pem" -o /dev/null "$base/healthz" 2>/dev/null && break
    sleep 0.5
done
kill -0 "$server_pid" 2>/dev/null || fail "SIGHUP ended echinomap"
curl -fsS --cacert "$tmp/cert.pem" -o /dev/null "$base/healthz" || fail "after SIGHUP the new certificate is not served"
! curl -fsS --cacert "$tmp/old-cert.pem" -o /dev/null "$base/healthz" 2>/dev/null || fail "after SIGHUP the old certificate is still served"
say "reload: SIGHUP, the new certificate is served"

# --- Backup -------------------------------------------------------------------------------------
say "backup: $(exec_start echinomap-backup.service)"
# shellcheck disable=SC2046
as_service -- $(exec_start echinomap-backup.service) >"$tmp/backup.log" 2>&1 || { cat "$tmp/backup.log"; fail "the timer's backup failed"; }
# By hand on the host, the installed configuration is found without --config (a second later:
# backups are named by the second).
sleep 1
as_service -- /usr/bin/echinomap backup >>"$tmp/backup.log" 2>&1 || { cat "$tmp/backup.log"; fail "echinomap backup without --config failed"; }
mapfile -t archives < <(find /var/lib/echinomap/backups -maxdepth 1 -name 'echinomap-backup-*.tar' | sort)
[ ${#archives[@]} -ge 1 ] || fail "no backup archive in /var/lib/echinomap/backups"
archive=${archives[-1]}
check_mode "$archive" echinomap:echinomap 600
tar -tf "$archive" >"$tmp/archive.list"
for member in manifest.json database.dump config/echinomap.toml; do
    grep -qx "$member" "$tmp/archive.list" || fail "$archive has no $member ($(tr '\n' ' ' <"$tmp/archive.list"))"
done
! grep -q secrets "$tmp/archive.list" || fail "$archive holds the secrets without --include-secrets"
say "backup: $(basename "$archive"), $(stat -c %s "$archive") bytes"
if as_service -- /usr/bin/echinomap doctor >"$tmp/doctor.log" 2>&1; then
    say "doctor: no problem"
else
    say "doctor reported problems (not a failure here):"
    sed 's/^/    /' "$tmp/doctor.log" | head -n 40
fi

# --- Upgrade over the running service -----------------------------------------------------------
say "upgrade: dpkg -i $(basename "$deb2") over the running service"
sum_before=$(md5sum /etc/echinomap/secrets.toml /etc/echinomap/tls/fullchain.pem /etc/echinomap/echinomap.toml)
dpkg -i "$deb2" >"$tmp/upgrade.log" 2>&1 || { cat "$tmp/upgrade.log"; fail "the upgrade failed"; }
sed 's/^/    /' "$tmp/upgrade.log"
grep -q 'stopping echinomap' "$tmp/upgrade.log" || fail "the upgrade did not stop the running echinomap"
! kill -0 "$server_pid" 2>/dev/null || fail "echinomap still runs after the upgrade's prerm"
grep -q 'migrating the database (upgrade from 0.1.0)' "$tmp/upgrade.log" || fail "the upgrade did not migrate"
grep -q 'migrations applied to embedded cluster at /var/lib/echinomap/pg' "$tmp/upgrade.log" || fail "echinomap migrate did not run on the cluster"
[ "$(dpkg-query -W -f='${Version}' echinomap)" = "$upgrade_version" ] || fail "the installed version is not $upgrade_version"
[ "$sum_before" = "$(md5sum /etc/echinomap/secrets.toml /etc/echinomap/tls/fullchain.pem /etc/echinomap/echinomap.toml)" ] ||
    fail "the upgrade changed the configuration, the secrets or the certificate"
start_service "$tmp/serve2.log" "${tls_env[@]}"
wait_healthy "$base/healthz" --cacert "$tmp/cert.pem"
[ "$(login --cacert "$tmp/cert.pem" -d "{\"username\":\"admin\",\"password\":\"$admin_password\"}" "$base/api/auth/login")" = 200 ] ||
    fail "after the upgrade the admin cannot log in: the data is not the same"
! grep -q 'first start' "$tmp/serve2.log" || fail "the upgraded service started on an empty database"
stop_service

# --- nginx in front ----------------------------------------------------------------------------
nginx=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
if [ -n "$nginx" ]; then
    say "nginx: packaging/nginx/echinomap.conf in front of echinomap"
    free_port plain_port
    free_port ngx_https
    free_port ngx_http
    # The configuration the example's comment asks for: plain HTTP on loopback, nginx trusted.
    grep -v '^tls_cert\|^tls_key\|^redirect_listen\|^listen' /etc/echinomap/echinomap.toml >"$tmp/proxied.toml"
    printf 'listen = "127.0.0.1:%s"\ntrusted_proxies = ["127.0.0.1"]\nhsts = true\n' "$plain_port" >>"$tmp/proxied.toml"
    chmod 0644 "$tmp/proxied.toml"
    serve_in_background "$tmp/serve3.log" ECHINOMAP_LOGIN_ATTEMPTS_PER_MINUTE=3 -- \
        /usr/bin/echinomap serve --config "$tmp/proxied.toml"
    # The example with this run's ports, certificate and paths.
    mkdir -p "$tmp/nginx/logs"
    sed -e "/listen \[::\]/d" \
        -e "s/listen 80;/listen 127.0.0.1:$ngx_http;/" \
        -e "s/listen 443 ssl http2;/listen 127.0.0.1:$ngx_https ssl http2;/" \
        -e "s#/etc/echinomap/tls/fullchain.pem#$tmp/cert.pem#" -e "s#/etc/echinomap/tls/privkey.pem#$tmp/key.pem#" \
        -e "s#http://127.0.0.1:8080#http://127.0.0.1:$plain_port#" \
        "$root/packaging/nginx/echinomap.conf" >"$tmp/nginx/site.conf"
    grep -q "127.0.0.1:$plain_port" "$tmp/nginx/site.conf" || fail "the nginx example no longer proxies to 127.0.0.1:8080"
    cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections 64; }
http {
    access_log $tmp/nginx/logs/access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    include $tmp/nginx/site.conf;
}
EOF
    "$nginx" -t -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" >"$tmp/nginx-t.log" 2>&1 ||
        { cat "$tmp/nginx-t.log"; fail "nginx refuses the example configuration"; }
    "$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" &
    started_pids+=("$!")
    ngx=https://localhost:$ngx_https
    wait_healthy "$ngx/healthz" --cacert "$tmp/cert.pem"
    curl -fsS --cacert "$tmp/cert.pem" -D "$tmp/headers" -o /dev/null "$ngx/healthz"
    [ "$(grep -ci '^strict-transport-security: max-age=31536000' "$tmp/headers")" = 1 ] || fail "not one HSTS header through nginx"
    location=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: localhost' "http://127.0.0.1:$ngx_http/healthz")
    [ "$location" = "308 https://localhost/healthz" ] || fail "nginx's port 80 answered: $location"
    # Clients at 127.0.0.2 and 127.0.0.3 reach nginx at 127.0.0.1; echinomap allows 3 login
    # attempts a minute per client address. 127.0.0.2 spends its three (one of them claiming to
    # be someone else in its own X-Forwarded-For), its fourth is refused; 127.0.0.3 is not.
    wrong='{"username":"admin","password":"not-the-password"}'
    for claim in none 198.51.100.9 none; do
        extra=()
        [ "$claim" = none ] || extra=(-H "X-Forwarded-For: $claim")
        status=$(login --interface 127.0.0.2 --cacert "$tmp/cert.pem" "${extra[@]}" -d "$wrong" "$ngx/api/auth/login")
        [ "$status" = 401 ] || fail "a wrong password from 127.0.0.2 through nginx answered $status"
    done
    status=$(login --interface 127.0.0.2 --cacert "$tmp/cert.pem" -H 'X-Forwarded-For: 198.51.100.10' -d "$wrong" "$ngx/api/auth/login")
    [ "$status" = 429 ] || fail "the fourth attempt from 127.0.0.2 through nginx answered $status, not 429"
    status=$(login --interface 127.0.0.3 --cacert "$tmp/cert.pem" -d "$wrong" "$ngx/api/auth/login")
    [ "$status" = 401 ] || fail "127.0.0.3 was throttled with 127.0.0.2 ($status): echinomap sees nginx, not the client"
    say "nginx: HTTPS, HSTS and redirect through nginx; the throttle counts each client behind it"
else
    say "nginx is not installed: the reverse proxy example was not run (scripts/prepare.sh --test installs it)"
    # The next step purges with a running service: start it again.
    start_service "$tmp/serve3.log" "${tls_env[@]}"
    wait_healthy "$base/healthz" --cacert "$tmp/cert.pem"
fi

# --- Purge with the service running -------------------------------------------------------------
say "dpkg --purge echinomap (echinomap running)"
dpkg --purge echinomap >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "dpkg --purge failed"; }
sed 's/^/    /' "$tmp/purge.log"
left=$(user_processes)
[ -z "$left" ] || fail "processes of the service user left after the purge:$left"
# The kept data keeps its owner: a freed uid could go to the next system user of any package.
getent passwd echinomap >/dev/null || fail "the purge removed the user echinomap that owns the kept data"
[ "$(find /var/lib/echinomap ! -user echinomap | wc -l)" = 0 ] || fail "kept files lost their owner"
[ ! -e /etc/echinomap ] || fail "the purge left /etc/echinomap"
[ ! -e /lib/systemd/system/echinomap.service ] || fail "the purge left the unit"
[ ! -e /etc/systemd/system/multi-user.target.wants/echinomap.service ] || fail "the purge left the unit's link"
[ -d /var/lib/echinomap/pg ] && [ -f "$archive" ] || fail "the purge removed the data or the backups"

# --- Installed again over the kept data, then purged with it --------------------------------------
# The kept files belong to a user that is gone (a new one may get another uid): the postinst
# gives them to the new echinomap user, and the service finds its database as it was.
say "dpkg -i again over the kept data (owned by a uid that no longer exists)"
chown -R 54321:54321 /var/lib/echinomap
dpkg -i "$deb" >"$tmp/reinstall.log" 2>&1 || { cat "$tmp/reinstall.log"; fail "installing again failed"; }
uid=$(id -u echinomap)
[ "$(find /var/lib/echinomap ! -user echinomap | wc -l)" = 0 ] || fail "the postinst left kept files to the old owner"
start_service "$tmp/serve4.log" "${tls_env[@]}"
wait_healthy "$base/healthz" --cacert "$tmp/cert.pem"
[ "$(login --cacert "$tmp/cert.pem" -d "{\"username\":\"admin\",\"password\":\"$admin_password\"}" "$base/api/auth/login")" = 200 ] ||
    fail "installed again, the service does not have the kept data"
say "dpkg --purge with ECHINOMAP_PURGE_DATA=yes"
ECHINOMAP_PURGE_DATA=yes dpkg --purge echinomap >"$tmp/purge2.log" 2>&1 || { cat "$tmp/purge2.log"; fail "dpkg --purge failed"; }
[ -z "$(user_processes)" ] || fail "processes of the service user left after the purge"
[ ! -e /var/lib/echinomap ] || fail "ECHINOMAP_PURGE_DATA=yes kept /var/lib/echinomap"
! getent passwd echinomap >/dev/null || fail "a purge with the data left the user echinomap"

say "passed in $(($(date +%s) - started)) s"
