#!/usr/bin/env bash
# bench/sync_fallback.sh: from a lost synchronous standby to commits flowing
# again, with pgrepl_admin.synchronous_fallback_after.
#
# A primary and one streaming standby (s1) on this machine, with
# set_synchronous(num => 1).  Each round: stop the standby (immediate, as a
# crash or a cut cable), commit one row at once and time how long that
# commit takes to return: that is the time from the loss to commits flowing
# again, to compare with the configured delay (ratio, overshoot).  Then start
# the standby again and time how long until the stored setting is back in
# force (catch-up included).  For each delay in DELAYS (milliseconds), in
# three conditions (MODES), the first of which is the baseline that the
# others are compared with (ratio of medians, same run):
#   plain    nothing else happens;
#   lock     a session holds ACCESS EXCLUSIVE on lag_history,
#            synchronous_setting and standbys (TRUNCATE lag_history) in a
#            transaction whose own commit waits in SyncRep, taken right
#            after the loss;
#   renewal  a certificate renewal is in progress in the maintenance
#            worker, held up by strace (each connect(2) of that worker, the
#            check that the new certificate is served among them, returns
#            after 120 s).
#
# Usage: bench/sync_fallback.sh [ROUNDS] [DELAYS] [MODES]
#        (default 5 "1000 2000 5000" "plain lock renewal"; renewal needs strace;
#        as root it runs as postgres; needs the extension installed:
#        make install).
set -euo pipefail

rounds=${1:-5}
delays=${2:-1000 2000 5000}
modes=${3:-plain lock renewal}
if [ "$(id -u)" -eq 0 ]; then
    script=$(readlink -f "$0")
    cd /tmp
    exec runuser -u postgres -- bash -s "$rounds" "$delays" "$modes" < "$script"
fi

export PATH="$(pg_config --bindir):$PATH"
dir=$(mktemp -d /tmp/pgrepl_admin_bench.XXXXXX)
port=${BENCH_PORT:-55742}
sport=$((port + 1))
strace_pid=
cleanup() {
    [ -n "$strace_pid" ] && kill "$strace_pid" 2>/dev/null
    pg_ctl -D "$dir/standby" -m immediate stop >/dev/null 2>&1 || true
    pg_ctl -D "$dir/primary" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

initdb -D "$dir/primary" -A trust >/dev/null
cat >> "$dir/primary/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'pgrepl_admin'
wal_level = replica
max_wal_senders = 4
wal_keep_size = '256MB'
CONF
pg_ctl -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null
psql="psql -X -q -At -h $dir -p $port -d postgres -v ON_ERROR_STOP=1"
$psql -c 'CREATE EXTENSION pgrepl_admin'
$psql -c 'CREATE TABLE t (n int)'
$psql -c "SELECT standby_name FROM pgrepl_admin.add_standby('s1', '127.0.0.1/32', create_slot => false)" >/dev/null

pg_basebackup -h "$dir" -p "$port" -D "$dir/standby" -R -X stream >/dev/null
cat >> "$dir/standby/postgresql.conf" <<CONF
port = $sport
cluster_name = 's1'
CONF
pg_ctl -D "$dir/standby" -l "$dir/standby.log" -w start >/dev/null

# wait until a query returns true, up to 60 s
wait_for() {
    for _ in $(seq 600); do
        [ "$($psql -c "$1")" = t ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $1" >&2
    exit 1
}
wait_for "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 's1' AND state = 'streaming'"
stored=$($psql -c "SELECT pgrepl_admin.set_synchronous(num => 1)")
wait_for "SELECT current_setting('synchronous_standby_names') = '$stored'"
# a managed server certificate, for the renewal mode
$psql -c "SELECT pgrepl_admin.rotate_server_cert(NULL, '1 day')" >/dev/null

now_ms() { date +%s%3N; }
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%d %d %d\n", v[1], v[int((NR + 1) / 2)], v[NR] }'; }

# renewal mode: strace holds each connect(2) of the maintenance worker, and
# with a certificate of one day renewed 30 days before its end, every check
# (each second) renews it
start_slow_renewal() {
    local worker
    worker=$($psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin maintenance'")
    strace -p "$worker" -e trace=connect -e inject=connect:delay_exit=120s -o /dev/null 2>/dev/null &
    strace_pid=$!
    sleep 1
    $psql -c "ALTER SYSTEM SET pgrepl_admin.cert_check_interval = 1" \
          -c "ALTER SYSTEM SET pgrepl_admin.cert_auto_renew = on" -c "SELECT pg_reload_conf()" >/dev/null
    wait_for "SELECT state = 'running' FROM pgrepl_admin.worker_status WHERE task = 'cert_renew'"
}
stop_slow_renewal() {
    $psql -c "ALTER SYSTEM SET pgrepl_admin.cert_auto_renew = off" -c "SELECT pg_reload_conf()" >/dev/null
    kill "$strace_pid"; wait "$strace_pid" 2>/dev/null || true
    strace_pid=
    wait_for "SELECT state <> 'running' FROM pgrepl_admin.worker_status WHERE task = 'cert_renew'"
}

echo "synchronous_standby_names = '$stored'; $rounds rounds per delay and mode"
printf '%-8s %-10s %-30s %-30s %-20s %-26s\n' "mode" "delay ms" "loss to commit ms min/med/max" "ratio to the delay med" "ratio to plain med" "back to stored setting ms med"
# the plain mode's median per delay, measured in this run: the baseline
declare -A baseline
for mode in $modes; do
    [ "$mode" = renewal ] && start_slow_renewal
    for delay in $delays; do
        $psql -c "ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = $delay" -c "SELECT pg_reload_conf()" >/dev/null
        wait_for "SELECT setting = '$delay' FROM pg_settings WHERE name = 'pgrepl_admin.synchronous_fallback_after'"
        wait_for "SELECT fallback_state = 'ok' FROM pgrepl_admin.synchronous_fallback()"
        : > "$dir/loss" ; : > "$dir/back"
        for r in $(seq "$rounds"); do
            $psql -c "INSERT INTO t VALUES (0)"    # the standby is there: a normal commit
            if [ "$mode" = renewal ]; then
                # (between two held-up renewals the task is in back-off)
                wait_for "SELECT state = 'running' FROM pgrepl_admin.worker_status WHERE task = 'cert_renew'"
                renewals=$($psql -c "SELECT runs FROM pgrepl_admin.worker_status WHERE task = 'cert_renew'")
            fi
            t0=$(now_ms)
            pg_ctl -D "$dir/standby" -m immediate stop >/dev/null
            locker=
            if [ "$mode" = lock ]; then
                $psql -c "BEGIN" \
                      -c "LOCK TABLE pgrepl_admin.lag_history, pgrepl_admin.synchronous_setting, pgrepl_admin.standbys IN ACCESS EXCLUSIVE MODE" \
                      -c "TRUNCATE pgrepl_admin.lag_history" -c "INSERT INTO t VALUES (-1)" -c "COMMIT" &
                locker=$!
                wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query = 'COMMIT'"
            fi
            $psql -c "INSERT INTO t VALUES ($r)"
            t1=$(now_ms)
            echo $((t1 - t0)) >> "$dir/loss"
            [ -n "$locker" ] && wait "$locker"
            [ "$($psql -c "SELECT fallback_state FROM pgrepl_admin.synchronous_fallback()")" = active ] ||
                { echo "round $r: the commit returned without a fallback" >&2; exit 1; }
            if [ "$mode" = renewal ]; then
                [ "$($psql -c "SELECT state || ' ' || runs FROM pgrepl_admin.worker_status WHERE task = 'cert_renew'")" = "running $renewals" ] ||
                    echo "round $r: the renewal running at the loss ended before the commit returned" >&2
            fi
            # some WAL for the standby to catch up on
            $psql -c "INSERT INTO t SELECT g FROM generate_series(1, 20000) g"
            t2=$(now_ms)
            pg_ctl -D "$dir/standby" -l "$dir/standby.log" -w start >/dev/null
            wait_for "SELECT fallback_state = 'ok' AND current_setting('synchronous_standby_names') = '$stored' FROM pgrepl_admin.synchronous_fallback()"
            t3=$(now_ms)
            echo $((t3 - t2)) >> "$dir/back"
        done
        read -r lmin lmed lmax < <(stats < "$dir/loss")
        read -r _ bmed _ < <(stats < "$dir/back")
        ratio=$(awk -v m="$lmed" -v d="$delay" 'BEGIN { printf "%.2f (overshoot %d ms)", m / d, m - d }')
        [ "$mode" = plain ] && baseline[$delay]=$lmed
        if [ -n "${baseline[$delay]:-}" ]; then
            vsplain=$(awk -v m="$lmed" -v b="${baseline[$delay]}" 'BEGIN { printf "%.2f", m / b }')
        else
            vsplain="- (plain not run)"
        fi
        printf '%-8s %-10s %-30s %-30s %-20s %-26s\n' "$mode" "$delay" "$lmin / $lmed / $lmax" "$ratio" "$vsplain" "$bmed"
    done
    [ "$mode" = renewal ] && stop_slow_renewal
done
grep -c 'have been missing\|has been missing' "$dir/primary.log" | sed 's/^/fallback WARNINGs logged: /'
grep -c 'restored synchronous_standby_names to the stored setting' "$dir/primary.log" | sed 's/^/restores logged: /'
