#!/usr/bin/env bash
# Backup and restore speed at demo scale 100, side by side with PostgreSQL's own tools on the
# same database in the same run:
#   - `pg_dump -Fc` of the database (default compression) and `pg_dump -Fc -Z1` (the level
#     echinomap's backup uses), to a file;
#   - `echinomap backup` (pg_dump in an exported snapshot, the manifest's per-table counts and
#     hashes computed beside it, the tar written, synced and renamed);
#   - `pg_restore` of the plain dump into a new database of the same cluster;
#   - `echinomap restore` of the backup into another new database (the archive checked first,
#     pg_restore in one transaction, then every table's count and hash compared).
# Each new database is dropped after its timing, so the disk needs room for one copy more.
#
#   flock /tmp/echinomap-bench.lock bench/backup.sh [DATA_DIR]     default: bench/var100
#
# DATA_DIR holds an embedded cluster with the demo data loaded beforehand
# (`echinomap demo-data --scale 100 --data-dir bench/var100`, kept); a server on a spare loopback
# port holds the cluster during the run. Prints a Markdown table for docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-bench/var100}
[ -f "$data/pg/PG_VERSION" ] || { echo "$data holds no cluster: load it with echinomap demo-data --scale 100 --data-dir $data" >&2; exit 1; }
export ECHINOMAP_CONFIG=none
unset DATABASE_URL ECHINOMAP_BACKUP_DIR ECHINOMAP_BACKUP_COPY_DIR

# ECHINOMAP_BIN: a binary built already (the release build by default).
if [ -n "${ECHINOMAP_BIN:-}" ]; then
  bin=$ECHINOMAP_BIN
else
  cargo build --release --locked -p echinomap-server >/dev/null
  bin=${CARGO_TARGET_DIR:-target}/release/echinomap
fi
# Not under /tmp: the dumps and logs must survive whatever cleans /tmp meanwhile.
work=$(mktemp -d "$PWD/bench/var-backup-XXXX")
chmod 777 "$work"  # pg_dump/pg_restore run as postgres when we are root
port=18996
# WAL kept small: the restored copy, the dumps and the WAL must fit beside the source on disk.
"$bin" serve --listen 127.0.0.1:$port --data-dir "$data" --pg-setting max_wal_size=1GB \
  >/dev/null 2>"$work/serve.log" &
server=$!
pgdata=$(cd "$data/pg" && pwd)
pgbin=/usr/lib/postgresql/$(cat "$data/pg/PG_VERSION")/bin
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
conn=(-h "$pgdata" -p 5432 -U postgres)
psql_() { "${as_pg[@]}" "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 "${conn[@]}" "$@"; }
cleanup() {
  psql_ -d postgres -c "DROP DATABASE IF EXISTS bench_plain_restore" 2>/dev/null || true
  psql_ -d postgres -c "DROP DATABASE IF EXISTS bench_echinomap_restore" 2>/dev/null || true
  kill $server 2>/dev/null; wait $server 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 240); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.5; done
curl -sf http://127.0.0.1:$port/healthz >/dev/null || { echo "the server did not start: $work/serve.log" >&2; exit 1; }

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
size_mb() { awk -v s="$(stat -c %s "$1")" 'BEGIN { printf "%.0f", s / 1048576 }'; }

rows=$(psql_ -d echinomap -At -c "SELECT sum(n_live_tup) FROM pg_stat_user_tables")
db_size=$(psql_ -d echinomap -At -c "SELECT pg_size_pretty(pg_database_size('echinomap'))")
need_kb=$(psql_ -d echinomap -At -c "SELECT pg_database_size('echinomap') / 1024 * 13 / 10 + 4 * 1024 * 1024")
free_kb=$(df -Pk "$work" "$pgdata" | awk 'NR > 1 && (min == "" || $4 < min) { min = $4 } END { print min }')
[ "$free_kb" -ge "$need_kb" ] || { echo "not enough free disk: $((free_kb / 1048576)) GB free, $((need_kb / 1048576)) GB needed (a restored copy, two dumps, WAL)" >&2; exit 1; }
echo "machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo) RAM; $(date -u '+%Y-%m-%d %H:%M UTC'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "database: $rows rows, $db_size"

t0=$(now)
"${as_pg[@]}" "$pgbin/pg_dump" "${conn[@]}" -d echinomap -Fc -f "$work/plain.dump"
t1=$(now)
"${as_pg[@]}" "$pgbin/pg_dump" "${conn[@]}" -d echinomap -Fc -Z1 -f "$work/plain-z1.dump"
t2=$(now)
"$bin" backup --data-dir "$data" --dest "$work/backups" --no-prune >"$work/backup.out" 2>>"$work/serve.log"
t3=$(now)
archive=$(ls "$work"/backups/echinomap-backup-*.tar)
dump_plain=$(secs "$t0" "$t1"); dump_z1=$(secs "$t1" "$t2"); backup=$(secs "$t2" "$t3")
echo "pg_dump -Fc: $dump_plain s, $(size_mb "$work/plain.dump") MB; pg_dump -Fc -Z1: $dump_z1 s, $(size_mb "$work/plain-z1.dump") MB; echinomap backup: $backup s, $(size_mb "$archive") MB ($(cat "$work/backup.out")); load $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$work/plain-z1.dump"

psql_ -d postgres -c "CREATE DATABASE bench_plain_restore"
t4=$(now)
"${as_pg[@]}" "$pgbin/pg_restore" "${conn[@]}" -d bench_plain_restore --no-owner --no-privileges "$work/plain.dump"
t5=$(now)
psql_ -d postgres -c "DROP DATABASE bench_plain_restore"
echo "pg_restore: $(secs "$t4" "$t5") s; load $(cut -d' ' -f1-3 /proc/loadavg)"
psql_ -d postgres -c "CREATE DATABASE bench_echinomap_restore"
t6=$(now)
"$bin" restore "$archive" --database-url "postgres://postgres@localhost:5432/bench_echinomap_restore?host=$pgdata" \
  >"$work/restore.out" 2>>"$work/serve.log"
t7=$(now)
psql_ -d postgres -c "DROP DATABASE bench_echinomap_restore"
restore_plain=$(secs "$t4" "$t5"); restore=$(secs "$t6" "$t7")

echo "echinomap restore: $restore s ($(cat "$work/restore.out")); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| step | echinomap (s) | PostgreSQL's tool (s) | speed vs the tool | file |"
echo "|---|---|---|---|---|"
awk -v e="$backup" -v p="$dump_plain" -v p1="$dump_z1" -v a="$(size_mb "$archive")" -v d="$(size_mb "$work/plain.dump")" 'BEGIN {
  printf "| backup vs `pg_dump -Fc` | %.1f | %.1f | %.2f× | %s MB archive, %s MB plain dump |\n", e, p, p / e, a, d
  printf "| backup vs `pg_dump -Fc -Z1` (the same compression) | %.1f | %.1f | %.2f× | |\n", e, p1, p1 / e }'
awk -v e="$restore" -v p="$restore_plain" 'BEGIN {
  printf "| restore vs `pg_restore` | %.1f | %.1f | %.2f× | |\n", e, p, p / e }'
