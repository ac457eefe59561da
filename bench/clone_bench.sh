#!/usr/bin/env bash
# clone_bench.sh: how long it takes until a new standby streams, with
# pgrepl_clone_standby and with pg_basebackup (-X stream -c fast), on a
# pgbench database; the same after about 5% new data, pgrepl_clone_standby
# re-syncing the stopped standby against a fresh pg_basebackup; and the cost
# of backup mode itself (backup_start + backup_stop against pg_backup_start +
# pg_backup_stop in one session) at scale 1 and at the large scale.
#
# Run as the database's OS user (never root), with pgrepl_admin installed
# (make install).  Everything runs on loopback in a temporary directory that
# is removed at the end.
#
# Environment: SCALE (default 50), PORT (default 56432; the standby uses the
# next port), ROUNDS (backup-mode rounds per measure, default 20).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
clone="$here/scripts/pgrepl_clone_standby"
bindir=$(pg_config --bindir)
export PATH="$bindir:$PATH"
scale=${SCALE:-50}
port=${PORT:-56432}
sport=$((port + 1))
rounds=${ROUNDS:-20}
dir=$(mktemp -d /tmp/pgrepl_admin_bench.XXXXXX)

cleanup() {
    pg_ctl -D "$dir/standby" -m immediate stop >/dev/null 2>&1 || true
    pg_ctl -D "$dir/primary" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

say() { printf '%s\n' "$*" >&2; }
sql() { psql -X -q -A -t -h "$dir" -p "$port" -d postgres -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
secs() { printf '%.2f' "$1"; }

# wait_streaming: until the one standby streams
wait_streaming() {
    until [ "$(sql -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ]; do
        sleep 0.05
    done
}

stop_standby() {
    pg_ctl -D "$dir/standby" -m fast stop >/dev/null 2>&1 || true
}

# one_pair WHO N [BEFORE]: psql lines for BEFORE (untimed), then one timed
# backup start and stop, pgrepl_admin's (WHO o) or the server's own (WHO c),
# preceded by a marker line for the timings
one_pair() {
    [ -n "${3:-}" ] && printf '\\timing off\n%s\n\\timing on\n' "$3"
    echo "\\echo $1"
    if [ "$1" = o ]; then
        echo "SELECT pgrepl_admin.backup_start('bench_$2', true);"
        echo "SELECT lsn FROM pgrepl_admin.backup_stop('bench_$2', false);"
    else
        echo "SELECT pg_backup_start('core_$2', true);"
        echo "SELECT lsn FROM pg_backup_stop(false);"
    fi
}

# backup_mode [BEFORE]: "OURS CORE", the seconds taken by 2 x $rounds
# backup_start + backup_stop and by as many pg_backup_start + pg_backup_stop,
# all in one session, after a checkpoint.  On an idle server (no BEFORE) in
# blocks of $rounds, ABBA, for a backup after the other kind would find a
# different server (the history row that pgrepl_admin writes after a backup
# is WAL that the next start must switch segments for).  With BEFORE, a
# write before each backup, round by round, ABBA, so that slow and fast
# moments of the machine fall on both alike.  Dirty pages of earlier work
# are written out first (sync), here and before each clone.
backup_mode() {
    sync
    {
        echo 'CHECKPOINT;'
        echo '\timing on'
        if [ -z "${1:-}" ]; then
            for who in o c c o; do
                for i in $(seq 1 "$rounds"); do one_pair "$who" "$who$i"; done
            done
        else
            for i in $(seq 1 "$rounds"); do
                for who in o c c o; do one_pair "$who" "$who$i$RANDOM" "$1"; done
            done
        fi
    } | sql -f - |
        awk '/^[oc]$/ { who = $1; next }
             /^Time: / { t[who] += $2 }
             END { printf "%.3f %.3f\n", t["o"] / 1000, t["c"] / 1000 }'
}

# a primary that writes: one small transaction before each backup
traffic="INSERT INTO bench_traffic VALUES (1);"

# basebackup: seconds until a standby made with pg_basebackup streams
basebackup() {
    local t
    sync
    t=$(now)
    pg_basebackup -h "$dir" -p "$port" -D "$dir/standby" -X stream -c fast -R >/dev/null
    printf "port = %s\nunix_socket_directories = '%s'\n" "$sport" "$dir" >>"$dir/standby/postgresql.auto.conf"
    pg_ctl -D "$dir/standby" -l "$dir/standby.log" -w start >/dev/null
    wait_streaming
    since "$t"
}

# clone_until_streaming: seconds until pgrepl_clone_standby's standby streams
clone_until_streaming() {
    local t
    sync
    t=$(now)
    "$clone" --primary "host=$dir port=$port dbname=postgres" --source "$dir/primary" --target "$dir/standby" \
        --name clone \
        --set "port=$sport" --set "unix_socket_directories=$dir" --log "$dir/standby.log" --start >/dev/null
    since "$t"
}

say "== primary in $dir/primary, port $port"
initdb -D "$dir/primary" -A trust >/dev/null
cat >>"$dir/primary/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
shared_preload_libraries = 'pgrepl_admin'
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '4GB'
# add_standby's primary_conninfo reaches the primary over its socket
pgrepl_admin.primary_host = '$dir'
CONF
pg_ctl -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null
sql -c 'CREATE EXTENSION pgrepl_admin' -c 'CREATE TABLE bench_traffic (n int)'

say "== backup mode at scale 1"
pgbench -h "$dir" -p "$port" -i -s 1 -q postgres >/dev/null 2>&1
sql -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null
# warm-up, not measured: a new cluster has one WAL segment, and each backup
# ends in a switch to the next; after these, checkpoints recycle old segments
# instead of the backups creating (zero-filling) new ones
for i in $(seq 1 "$rounds"); do
    echo "SELECT pg_backup_start('warm-up', true); SELECT lsn FROM pg_backup_stop(false);"
done | sql -f - >/dev/null
read -r ours1 core1 < <(backup_mode)
read -r ours1w core1w < <(backup_mode "$traffic")

say "== pgbench -i -s $scale"
pgbench -h "$dir" -p "$port" -i -s "$scale" -q postgres >/dev/null 2>&1
sql -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null
size=$(sql -c "SELECT pg_size_pretty(sum(pg_database_size(oid))) FROM pg_database")
say "== backup mode at scale $scale ($size)"
read -r oursN coreN < <(backup_mode)
read -r oursNw coreNw < <(backup_mode "$traffic")

say "== pg_basebackup, fresh"
bb_fresh=$(basebackup)
stop_standby
rm -rf "$dir/standby"

say "== pgrepl_clone_standby, fresh"
clone_fresh=$(clone_until_streaming)

say "== about 5% new data"
stop_standby
sql -c "INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
        SELECT aid + $scale * 100000, bid, 0, filler FROM pgbench_accounts WHERE aid <= $scale * 5000" \
    -c 'CHECKPOINT' >/dev/null

say "== pgrepl_clone_standby, resync of the stopped standby"
clone_resync=$(clone_until_streaming)
stop_standby
rm -rf "$dir/standby"
sql -c "SELECT pgrepl_admin.remove_standby('clone')" >/dev/null

say "== pg_basebackup, fresh, after the new data"
bb_fresh2=$(basebackup)

cat <<REPORT

pgbench scale $scale ($size), $(nproc) CPUs, $(date -u +%Y-%m-%d)

| measure | pgrepl_admin | reference | ratio | target |
|---|---|---|---|---|
| fresh standby until it streams | $(secs "$clone_fresh") s (pgrepl_clone_standby) | $(secs "$bb_fresh") s (pg_basebackup) | $(ratio "$clone_fresh" "$bb_fresh")x | <= 2x |
| resync after ~5% new data until it streams | $(secs "$clone_resync") s (pgrepl_clone_standby re-run) | $(secs "$bb_fresh2") s (fresh pg_basebackup) | $(ratio "$bb_fresh2" "$clone_resync")x faster | >= 3x faster |
| backup mode, 2 x $rounds x start + stop, idle, scale 1 | $(secs "$ours1") s (backup_start + backup_stop) | $(secs "$core1") s (pg_backup_start + pg_backup_stop) | $(ratio "$ours1" "$core1")x | <= 1.2x |
| backup mode, idle, scale $scale | $(secs "$oursN") s | $(secs "$coreN") s | $(ratio "$oursN" "$coreN")x | <= 1.2x |
| backup mode, one write before each backup, scale 1 | $(secs "$ours1w") s | $(secs "$core1w") s | $(ratio "$ours1w" "$core1w")x | <= 1.2x |
| backup mode, one write before each backup, scale $scale | $(secs "$oursNw") s | $(secs "$coreNw") s | $(ratio "$oursNw" "$coreNw")x | <= 1.2x |
| backup mode (idle), scale $scale against scale 1 | | | $(ratio "$oursN" "$ours1")x | does not grow |
REPORT
