#!/usr/bin/env bash
# bench/check_jit.sh: what JIT compilation costs check() and replication_lag.
#
# Both functions pin jit = off (issue 26): the planner's estimates for the
# statistics functions they read put check()'s plan above jit_above_cost,
# and a dashboard or exporter that polls it would pay for compiling the
# whole query at every call.  Alternating ROUNDS times, each a pgbench run
# of SECONDS seconds on one connection, with the server's default jit
# settings: the mean latency of each with the functions as installed (jit =
# off) against the same functions with the setting reset (ALTER FUNCTION
# ... RESET jit), measured in one run.  Target: the pinned one is never
# slower (ratio <= 1).
#
# Usage: bench/check_jit.sh [ROUNDS] [SECONDS]   (as root it runs as postgres;
#        needs the extension installed: make install, and a server built
#        with LLVM, as Debian's are)
set -euo pipefail

rounds=${1:-3}
seconds=${2:-4}
if [ "$(id -u)" -eq 0 ]; then
    script=$(readlink -f "$0")
    cd /tmp
    exec runuser -u postgres -- bash -s "$rounds" "$seconds" < "$script"
fi

export PATH="$(pg_config --bindir):$PATH"
dir=$(mktemp -d /tmp/pgrepl_admin_bench.XXXXXX)
port=${BENCH_PORT:-55733}
cleanup() {
    pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

initdb -D "$dir/data" -A trust >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$dir'
listen_addresses = ''
shared_preload_libraries = 'pgrepl_admin'
CONF
pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null
psql() { command psql -X -q -At -h "$dir" -p "$port" -d postgres "$@"; }
psql -c 'CREATE EXTENSION pgrepl_admin'
echo "PostgreSQL $(psql -c 'SHOW server_version'), jit = $(psql -c 'SHOW jit'), jit_above_cost = $(psql -c 'SHOW jit_above_cost')"
echo 'SELECT count(*) FROM pgrepl_admin.check();' > "$dir/check.sql"
echo 'SELECT count(*) FROM pgrepl_admin.replication_lag;' > "$dir/lag.sql"

latency() {
    pgbench -n -h "$dir" -p "$port" -f "$dir/$1.sql" -T "$seconds" postgres 2>/dev/null |
        awk '/latency average/ {print $4}'
}
declare -A sum
for round in $(seq 1 "$rounds"); do
    for mode in pinned reset; do
        if [ "$mode" = reset ]; then
            psql -c 'ALTER FUNCTION pgrepl_admin.check() RESET jit; ALTER FUNCTION pgrepl_admin.replication_lag() RESET jit'
        else
            psql -c 'ALTER FUNCTION pgrepl_admin.check() SET jit = off; ALTER FUNCTION pgrepl_admin.replication_lag() SET jit = off'
        fi
        for q in check lag; do
            ms=$(latency "$q")
            echo "round $round, $mode: $q $ms ms"
            sum[$mode.$q]=$(awk -v a="${sum[$mode.$q]:-0}" -v b="$ms" 'BEGIN {print a + b}')
        done
    done
done
for q in check lag; do
    awk -v q="$q" -v p="${sum[pinned.$q]}" -v r="${sum[reset.$q]}" -v n="$rounds" \
        'BEGIN {printf "%s: jit = off %.2f ms, jit reset %.2f ms, ratio %.4f\n", q, p / n, r / n, p / r}'
done
