#!/usr/bin/env bash
# demo-clusters.sh: the part of the demo that runs as the database's OS user
# (never root).  It starts a throwaway primary from a default initdb, prepares
# its settings with pgrepl_admin.prepare_primary(), gives it a certificate
# (rotate_server_cert), clones a standby with pgrepl_clone_standby (which
# provisions it with pgrepl_admin.add_standby() and holds the backup in a
# worker) streaming over verify-full TLS,
# all on loopback in a temporary directory, runs a little workload and shows
# what pgrepl_admin reports about both, then stops them and removes
# everything.
#
# Environment: DEMO_PORT (default 55432; the standby uses the next port),
# DEMO_KEEP=1 to leave both servers running and print how to reach them.
set -euo pipefail

bindir=$(pg_config --bindir)
export PATH="$bindir:$PATH"
port=${DEMO_PORT:-55432}
standby_port=$((port + 1))
dir=$(mktemp -d /tmp/pgrepl_admin_demo.XXXXXX)

cleanup() {
    if [ "${DEMO_KEEP:-0}" = 1 ]; then
        echo
        echo "Left running (DEMO_KEEP=1): psql -h $dir -p $port postgres (primary), -p $standby_port (standby)."
        echo "Stop with: pg_ctl -D $dir/standby stop; pg_ctl -D $dir/primary stop; rm -rf $dir"
        return
    fi
    pg_ctl -D "$dir/standby" -m fast stop >/dev/null 2>&1 || true
    pg_ctl -D "$dir/primary" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
# sql PORT [psql args...]: run psql against one of the two servers
sql() {
    local p=$1
    shift
    psql -X -q -h "$dir" -p "$p" -d postgres -v ON_ERROR_STOP=1 -P pager=off "$@"
}
# wait_for PORT QUERY: wait up to 60 s for QUERY to return t
wait_for() {
    for _ in $(seq 1 600); do
        [ "$(sql "$1" -Atc "$2" 2>/dev/null)" = t ] && return 0
        sleep 0.1
    done
    echo "demo: timed out waiting for: $2" >&2
    return 1
}

step "A primary from a default initdb, with pgrepl_admin preloaded ($dir/primary)"
initdb -D "$dir/primary" --auth-local=peer --auth-host=scram-sha-256 >/dev/null
# only what prepare_primary has no opinion on: where to reach the server, and
# the library itself
cat >> "$dir/primary/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'pgrepl_admin'
pgrepl_admin.lag_sample_interval = '1s'
CONF
pg_ctl -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null
sql "$port" -c 'CREATE EXTENSION pgrepl_admin'
sql "$port" -c '\dx pgrepl_admin'

step "prepare_primary: the settings a primary needs for its standbys, written with ALTER SYSTEM"
sql "$port" -P format=wrapped -P columns=200 -c \
    "SELECT * FROM pgrepl_admin.prepare_primary(apply => true, listen_addresses => '127.0.0.1')"

step "Restart for the settings that need it; nothing is left pending"
pg_ctl -D "$dir/primary" -l "$dir/primary.log" -w restart >/dev/null
sql "$port" -c "SELECT name, setting FROM pg_settings
                WHERE name IN ('listen_addresses', 'wal_level', 'max_wal_senders', 'wal_log_hints',
                               'max_slot_wal_keep_size') OR pending_restart ORDER BY name"

step "TLS for replication: a local CA and a server certificate for 127.0.0.1 (rotate_server_cert)"
sql "$port" -c "SELECT kind, subject, san, served FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'])"
# standbys on this machine reach the primary at 127.0.0.1
sql "$port" -c "ALTER SYSTEM SET pgrepl_admin.primary_host = '127.0.0.1'" -c 'SELECT pg_reload_conf()' >/dev/null

step "A standby on 127.0.0.1:$standby_port, cloned with pgrepl_clone_standby ($dir/standby)"
# provisioned with add_standby (role, pg_hba.conf rule, slot), copied by rsync
# while a worker holds the backup, configured for verify-full TLS and started
pgrepl_clone_standby --primary "host=$dir port=$port dbname=postgres" \
    --source "$dir/primary" --target "$dir/standby" --name demo_standby \
    --address 127.0.0.1/32 \
    --set "port=$standby_port" --set cluster_name=demo_standby \
    --log "$dir/standby.log" --start
wait_for "$port" "SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
                  WHERE r.application_name = 'demo_standby' AND r.state = 'streaming' AND s.ssl"
sql "$port" -c 'SELECT name, role_name, address, auth, slot_name FROM pgrepl_admin.standbys'
sql "$port" -c 'SELECT rule_id, connection_type, database, role_name, address, method, line_number, loaded, error FROM pgrepl_admin.hba_status'
grep -n 'pgrepl_admin' "$dir/primary/pg_hba.conf"
sql "$port" -c "SELECT r.application_name, r.usename, r.state, s.ssl, s.version, sl.slot_name
                FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
                LEFT JOIN pg_replication_slots sl ON sl.active_pid = r.pid"
sql "$standby_port" -c "SELECT in_recovery, wal_receiver_status, sender_host, sender_port, slot_name, ssl FROM pgrepl_admin.standby_status"

step "The backup the clone held, stopped from another session than the one that started it (pgrepl_admin.backups)"
sql "$port" -c "SELECT label, state, start_lsn, stop_lsn, stopped_at - started_at AS backup_mode_lasted
                FROM pgrepl_admin.backups ORDER BY started_at"

step "Some writes on the primary, read back on the standby"
sql "$port" -c 'CREATE TABLE demo_orders AS SELECT g AS id, now() AS placed_at FROM generate_series(1, 100000) g'
wait_for "$port" "SELECT replay_lsn >= pg_current_wal_lsn() FROM pg_stat_replication WHERE application_name = 'demo_standby'"
sql "$standby_port" -c 'SELECT pg_is_in_recovery() AS standby, count(*) AS orders_replicated FROM demo_orders'

step "The maintenance worker on the primary (pgrepl_admin.worker_status)"
wait_for "$port" "SELECT last_outcome = 'ok' FROM pgrepl_admin.worker_status WHERE task = 'lag_sample'"
sql "$port" -c 'SELECT task, state, run_interval, last_outcome, runs, failures, worker_pid FROM pgrepl_admin.worker_status'

step "The same worker on the standby: it holds back tasks that write until promotion"
wait_for "$standby_port" "SELECT worker_pid IS NOT NULL FROM pgrepl_admin.worker_status WHERE task = 'lag_sample'"
sql "$standby_port" -c 'SELECT task, state, runs_on_standby, worker_pid FROM pgrepl_admin.worker_status'

step "Lag samples the worker took (pgrepl_admin.lag_history)"
wait_for "$port" "SELECT count(*) >= 2 FROM pgrepl_admin.lag_history WHERE standby_name = 'demo_standby'"
sql "$port" -c "SELECT sampled_at::time(0), standby_name, status, replay_lag_bytes, replay_lag, slot_name, slot_retained_bytes
                FROM pgrepl_admin.lag_history ORDER BY sampled_at DESC LIMIT 3"

step "Replication lag now, as dashboards read it (pgrepl_admin.replication_lag)"
sql "$port" -c "SELECT standby_name, status, client_addr, replay_lag_bytes, replay_lag, reply_age, slot_name, slot_retained_bytes
                FROM pgrepl_admin.replication_lag"

step "Certificates the primary manages (pgrepl_admin.certificates)"
sql "$port" -c "SELECT kind, subject, serial, expires_in, key_type, san, key_matches, served FROM pgrepl_admin.certificates"

step "Health check (pgrepl_admin.check())"
sql "$port" -P format=wrapped -P columns=200 -c "SELECT check_name, status, detail FROM pgrepl_admin.check()"

step "Done"
