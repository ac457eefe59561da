#!/usr/bin/env bash
# sync_commit.sh: the cost of a commit that waits for one synchronous
# standby on loopback, against the same commit asynchronous.  Run as the
# database's OS user (never root), after "make install":
#
#   a primary and one streaming standby (pg_basebackup, over TCP on
#   127.0.0.1), the standby registered with add_standby(); pgbench's
#   simple-update script (-N), first with synchronous replication off
#   (set_synchronous(num => 0)), then with set_synchronous(ARRAY['s1'], 1),
#   each with 1 client (the latency of one commit) and with CLIENTS clients
#   (throughput); synchronous_commit = on (the standby's flush).
#
# Environment: BENCH_PORT (default 55542; the standby uses the next port),
# DURATION seconds per run (default 15), CLIENTS (default 8), SCALE (10).
set -euo pipefail

bindir=$(pg_config --bindir)
export PATH="$bindir:$PATH"
port=${BENCH_PORT:-55542}
sport=$((port + 1))
duration=${DURATION:-15}
clients=${CLIENTS:-8}
scale=${SCALE:-10}
dir=$(mktemp -d /tmp/pgrepl_admin_bench.XXXXXX)
trap 'pg_ctl -D "$dir/standby" -m immediate stop >/dev/null 2>&1 || true;
      pg_ctl -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

sql() { psql -X -q -h "$dir" -p "$port" -d postgres -v ON_ERROR_STOP=1 -At "$@"; }

initdb -D "$dir/data" -A trust >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$dir'
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'pgrepl_admin'
pgrepl_admin.hba_check_interval = 0
CONF
echo "host replication all 127.0.0.1/32 trust" >> "$dir/data/pg_hba.conf"
pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null
sql -c 'CREATE EXTENSION pgrepl_admin'
# registered without a slot: the standby below logs in as the bootstrap
# superuser over the trust line, with application_name = s1
sql -c "SELECT count(*) FROM pgrepl_admin.add_standby('s1', '127.0.0.1/32', create_slot => false)" >/dev/null 2>&1

pg_basebackup -h 127.0.0.1 -p "$port" -D "$dir/standby" -X stream
cat >> "$dir/standby/postgresql.conf" <<CONF
port = $sport
unix_socket_directories = '$dir'
listen_addresses = ''
primary_conninfo = 'host=127.0.0.1 port=$port application_name=s1'
CONF
touch "$dir/standby/standby.signal"
pg_ctl -D "$dir/standby" -l "$dir/standby.log" -w start >/dev/null
until [ "$(sql -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = 's1' AND state = 'streaming'")" = 1 ]; do
    sleep 0.2
done

pgbench -h "$dir" -p "$port" -i -q -s "$scale" postgres >/dev/null 2>&1

# run <clients>: tps and mean latency (ms) of a DURATION-second run
run() {
    pgbench -h "$dir" -p "$port" -N -n -T "$duration" -c "$1" -j "$(( $1 < 2 ? 1 : 2 ))" postgres 2>/dev/null |
        awk '/^latency average/ {lat = $4} /^tps/ {tps = $3} END {printf "%.0f %.3f\n", tps, lat}'
}

declare -A tps lat
for mode in async sync; do
    if [ "$mode" = async ]; then
        sql -c "SELECT pgrepl_admin.set_synchronous(num => 0)" >/dev/null
        want=''
    else
        sql -c "SELECT pgrepl_admin.set_synchronous(ARRAY['s1'], 1)" >/dev/null
        want='ANY 1 (s1)'
    fi
    until [ "$(sql -c 'SHOW synchronous_standby_names')" = "$want" ]; do sleep 0.1; done
    [ "$mode" = sync ] && until [ "$(sql -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 's1'")" = quorum ]; do sleep 0.1; done
    for c in 1 "$clients"; do
        read -r t l < <(run "$c")
        tps[$mode,$c]=$t
        lat[$mode,$c]=$l
        echo "$mode, $c client(s): $t tps, $l ms per transaction"
    done
done

echo "== synchronous against asynchronous (pgbench -N, ${duration}s per run, scale $scale)"
for c in 1 "$clients"; do
    awk -v c="$c" -v at="${tps[async,$c]}" -v st="${tps[sync,$c]}" -v al="${lat[async,$c]}" -v sl="${lat[sync,$c]}" \
        'BEGIN {printf "%s client(s): latency %.3f ms -> %.3f ms (x%.2f), throughput %d -> %d tps (x%.2f)\n", c, al, sl, sl / al, at, st, st / at}'
done
