#!/usr/bin/env bash
# provisioning.sh: the standby provisioning benchmark.  Run as the database's
# OS user (never root), after "make install":
#
#   1. add_standby() for 100 standbys in one transaction: the time of the
#      transaction, and how many times pg_hba.conf was written (reloads
#      signalled, counted in the server log);
#   2. hba_add() latency (the statement and its commit, which renders,
#      writes, parser-checks and installs the file) with 1,000 managed rules
#      in a 10,000-line pg_hba.conf: the median and worst of RUNS calls.
#
# Environment: BENCH_PORT (default 55532), RUNS (default 50).
set -euo pipefail

bindir=$(pg_config --bindir)
export PATH="$bindir:$PATH"
port=${BENCH_PORT:-55532}
runs=${RUNS:-50}
dir=$(mktemp -d /tmp/pgrepl_admin_bench.XXXXXX)
trap 'pg_ctl -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

sql() { psql -X -q -h "$dir" -p "$port" -d postgres -v ON_ERROR_STOP=1 -At "$@"; }
reloads() { grep -c 'received SIGHUP' "$dir/log" || true; }

initdb -D "$dir/data" -A trust >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$dir'
listen_addresses = ''
shared_preload_libraries = 'pgrepl_admin'
max_replication_slots = 110
pgrepl_admin.hba_check_interval = 0
CONF
pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null
sql -c 'CREATE EXTENSION pgrepl_admin'
sql -c "SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost'])" >/dev/null 2>&1
sleep 1

echo "== 100 standbys in one transaction"
before=$(reloads)
start=$(date +%s%N)
sql -c "BEGIN" \
    -c "SELECT count(*) FROM generate_series(1, 100) i,
               LATERAL pgrepl_admin.add_standby('bench_' || i, ('10.50.' || i || '.1/32')::cidr)" \
    -c "COMMIT" >/dev/null
end=$(date +%s%N)
sleep 1
echo "transaction: $(( (end - start) / 1000000 )) ms (psql round trip included)"
echo "pg_hba.conf writes (reloads signalled): $(( $(reloads) - before ))"
echo "slots: $(sql -c 'SELECT count(*) FROM pg_replication_slots')"

echo "== hba_add with 1,000 managed rules in a 10,000-line pg_hba.conf"
hba=$(sql -c 'SHOW hba_file')
extra=$(( 10000 - $(wc -l < "$hba") - 900 - 1 ))
{
    for i in $(seq 1 "$extra"); do
        printf 'host "db_%d" "user_%d" 10.%d.%d.%d/32 scram-sha-256\n' "$i" "$i" $((i / 65536 + 100)) $((i / 256 % 256)) $((i % 256))
    done
} > "$dir/extra"
cat "$dir/extra" >> "$hba"
sql -c "SELECT pgrepl_admin.create_replication_role('bench_role')" >/dev/null
sql -c "SELECT count(pgrepl_admin.hba_add(('10.60.' || (i / 256) || '.' || (i % 256) || '/32')::cidr, 'bench_role'))
        FROM generate_series(1, 900) i" >/dev/null
echo "pg_hba.conf: $(wc -l < "$hba") lines, $(grep -c '# pgrepl_admin rule' "$hba") managed rules"
{
    echo '\timing on'
    for i in $(seq 1 "$runs"); do
        echo "SELECT pgrepl_admin.hba_add('10.70.0.$i/32', 'bench_role');"
    done
} > "$dir/add.sql"
sql -f "$dir/add.sql" | grep -oE 'Time: [0-9.]+' | awk '{print $2}' | sort -n > "$dir/times"
echo "hba_add ($runs calls, each its own transaction): median $(awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' "$dir/times") ms, worst $(tail -1 "$dir/times") ms"
echo "errors in the file: $(sql -c 'SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL')"
