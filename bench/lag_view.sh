#!/usr/bin/env bash
# bench/lag_view.sh: the cost of monitoring.
#
# 1. Latency of SELECT * FROM pgrepl_admin.replication_lag against the query
#    users write today (pg_stat_replication LEFT JOIN pg_replication_slots
#    with pg_wal_lsn_diff columns), with 1, 20 and 100 WAL streaming clients
#    (pg_receivewal), alternating ROUNDS times, each a pgbench run of SECONDS
#    seconds on one connection.  Target: ratio <= 1 at every count.
# 2. The worker's cost: pgbench TPS (the built-in TPC-B-like script, 2
#    clients) with lag sampling every second against sampling off,
#    alternating.  Target: ratio >= 0.99.
#
# Usage: bench/lag_view.sh [ROUNDS] [SECONDS] [PARTS]   (as root it runs as
#        postgres; needs the extension installed: make install).  PARTS is
#        "view,tps" (default), "view" or "tps".
set -euo pipefail

rounds=${1:-5}
seconds=${2:-3}
parts=${3:-view,tps}
if [ "$(id -u)" -eq 0 ]; then
    script=$(readlink -f "$0")
    cd /tmp
    exec runuser -u postgres -- bash -s "$rounds" "$seconds" "$parts" < "$script"
fi

export PATH="$(pg_config --bindir):$PATH"
dir=$(mktemp -d /tmp/pgrepl_admin_bench.XXXXXX)
port=${BENCH_PORT:-55732}
receivers=()
cleanup() {
    for p in "${receivers[@]}"; do kill "$p" 2>/dev/null || true; done
    pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

# 1 MB WAL segments keep 100 receivers' partial segments small
initdb -D "$dir/data" -A trust --wal-segsize=1 >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'pgrepl_admin'
max_connections = 150
max_wal_senders = 110
pgrepl_admin.lag_sample_interval = 0
CONF
pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null
psql="psql -X -q -h $dir -p $port -d postgres -v ON_ERROR_STOP=1"
$psql -c 'CREATE EXTENSION pgrepl_admin'
pgbench -i -q -s 5 -h "$dir" -p "$port" postgres >/dev/null 2>&1

cat > "$dir/ours.sql" <<'SQL'
SELECT * FROM pgrepl_admin.replication_lag;
SQL
cat > "$dir/theirs.sql" <<'SQL'
SELECT r.application_name, r.client_addr, r.state, r.sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.sent_lsn) AS sent_lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.write_lsn) AS write_lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.flush_lsn) AS flush_lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn) AS replay_lag_bytes,
       r.write_lag, r.flush_lag, r.replay_lag, s.slot_name,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn) AS slot_retained_bytes
FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid;
SQL

# mean latency in ms of one pgbench run of a script
latency() {
    pgbench -n -c 1 -T "$seconds" -f "$1" -h "$dir" -p "$port" postgres 2>/dev/null |
        sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p'
}
mean() { awk '{ s += $1 } END { printf "%.4f", s / NR }' "$1"; }

start_receivers() {
    local want=$1
    while [ ${#receivers[@]} -lt "$want" ]; do
        local n=${#receivers[@]}
        mkdir -p "$dir/recv$n"
        pg_receivewal -h "$dir" -p "$port" -D "$dir/recv$n" --no-sync -n \
            --no-loop 2>>"$dir/receivers.log" &
        receivers+=($!)
    done
    for _ in $(seq 1 100); do
        [ "$($psql -Atc 'SELECT count(*) FROM pg_stat_replication')" -ge "$want" ] && return 0
        sleep 0.1
    done
    echo "only $($psql -Atc 'SELECT count(*) FROM pg_stat_replication') of $want receivers connected" >&2
    return 1
}

if [[ $parts == *view* ]]; then
echo "replication_lag against pg_stat_replication LEFT JOIN pg_replication_slots"
echo "(mean latency over $rounds alternating pgbench runs of ${seconds}s)"
printf '%-10s %12s %12s %8s\n' clients "ours (ms)" "theirs (ms)" ratio
for clients in 1 20 100; do
    start_receivers "$clients"
    : > "$dir/o"; : > "$dir/t"
    for _ in $(seq 1 "$rounds"); do
        latency "$dir/ours.sql" >> "$dir/o"
        latency "$dir/theirs.sql" >> "$dir/t"
    done
    o=$(mean "$dir/o"); t=$(mean "$dir/t")
    printf '%-10s %12s %12s %8s\n' "$clients" "$o" "$t" "$(awk -v a="$o" -v b="$t" 'BEGIN { printf "%.3f", a / b }')"
done
fi
[[ $parts == *tps* ]] || exit 0
start_receivers 100

echo
echo "pgbench TPS with lag sampling every second against sampling off"
echo "(100 WAL clients connected, $rounds rounds of ${seconds}s runs in ABBA order, 2 clients)"
tps() {
    pgbench -n -c 2 -j 2 -T "$seconds" -h "$dir" -p "$port" postgres 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
set_interval() {
    $psql -c "ALTER SYSTEM SET pgrepl_admin.lag_sample_interval = '$1'" -c 'SELECT pg_reload_conf()' >/dev/null
    sleep 0.5
}
: > "$dir/on"; : > "$dir/off"
# ABBA order, so that neither setting always runs first in a round
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
        set_interval 1s; tps >> "$dir/on"
        set_interval 0; tps >> "$dir/off"
    else
        set_interval 0; tps >> "$dir/off"
        set_interval 1s; tps >> "$dir/on"
    fi
done
on=$(mean "$dir/on"); off=$(mean "$dir/off")
# the worker's own CPU time over a minute of sampling every second: the
# direct cost, free of pgbench's noise
worker=$($psql -Atc "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin maintenance'")
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$worker/stat"; }
set_interval 1s
t0=$(cpu_ticks); sleep 60; t1=$(cpu_ticks)
set_interval 0
printf 'worker CPU with sampling every second: %s ms per second (%s%% of one core)\n' \
    "$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) * 1000 / hz / 60 }')" \
    "$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) * 100 / hz / 60 }')"
printf 'sampling on: %s tps, off: %s tps, ratio %s (target >= 0.99)\n' "$on" "$off" \
    "$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')"
echo "lag_history rows written: $($psql -Atc 'SELECT count(*) FROM pgrepl_admin.lag_history')"
