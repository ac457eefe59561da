#!/usr/bin/env bash
# bench/cert_rotate.sh: how long a served server-certificate rotation takes.
#
# In one run, alternating, ROUNDS times each:
#   ec-p256   pgrepl_admin.rotate_server_cert(..., key_type => 'ec-p256'):
#             key, signature, durable install, reload, and the TLS check
#             that the running server presents it
#   rsa-2048  the same with an RSA-2048 key
#   openssl   the old recipe's openssl CLI command alone: a self-signed
#             RSA-2048 pair (openssl req -x509 -newkey rsa:2048 -nodes),
#             without installing or reloading anything
# It prints the median of each and the ratios to the openssl command.
# Target: an ec-p256 rotation, served, in less than a third of the time the
# openssl CLI takes to make the RSA-2048 pair.
#
# With "session" first: whether served rotations stay as cheap and as small
# as the first ones, however many came before.  One session runs ROUNDS
# (default 1000) served ec-p256 rotations, one statement each, as a
# maintenance script would; each reports how long it took (measured in the
# server) and the backend's own anonymous resident memory (RssAnon of
# /proc/self/status, read with pg_read_file: the backend reading itself).
# It prints the median time of the first 50 and of the last 50 rotations
# and their ratio, the backend's memory after the first 50 and at the end
# and the growth, and how many files the store holds at the end.  Targets:
# a ratio close to 1 (no cost growing with the number of earlier
# rotations), growth under 2 MB.
#
# Usage: bench/cert_rotate.sh [ROUNDS]
#        bench/cert_rotate.sh session [ROUNDS]
#        (as root it runs as postgres; needs the extension installed:
#        make install)
set -euo pipefail

mode=alternate
if [ "${1:-}" = session ]; then mode=session; shift; fi
rounds=${1:-$([ $mode = session ] && echo 1000 || echo 30)}
if [ "$(id -u)" -eq 0 ]; then
    script=$(readlink -f "$0")
    cd /tmp
    exec runuser -u postgres -- bash -s $([ $mode = session ] && echo session) "$rounds" < "$script"
fi

export PATH="$(pg_config --bindir):$PATH"
dir=$(mktemp -d /tmp/pgrepl_admin_bench.XXXXXX)
port=${BENCH_PORT:-55632}
trap 'pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

initdb -D "$dir/data" -A trust >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'pgrepl_admin'
pgrepl_admin.cert_auto_renew = off
CONF
pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null
psql="psql -X -q -h $dir -p $port -d postgres -v ON_ERROR_STOP=1"
$psql -c 'CREATE EXTENSION pgrepl_admin' -c "SELECT pgrepl_admin.ca_init()" >/dev/null

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if [ $mode = session ]; then
    # one line per rotation: seconds it took, RssAnon in kB afterwards
    for _ in $(seq 1 "$rounds"); do
        echo "DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); served boolean; BEGIN
              SELECT r.served INTO served FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '90 days') r;
              IF served THEN RAISE NOTICE 'round % %', extract(epoch FROM clock_timestamp() - t0),
                  substring(pg_read_file('/proc/self/status') FROM 'RssAnon:\\s*(\\d+)'); END IF; END \$\$;"
    done | $psql 2>&1 >/dev/null | sed -n 's/.*round //p' > "$dir/rounds"

    [ "$(wc -l < "$dir/rounds")" -eq "$rounds" ] || { echo "only $(wc -l < "$dir/rounds") of $rounds rotations were served" >&2; exit 1; }
    first=$(head -n 50 "$dir/rounds" | cut -d' ' -f1 | median)
    last=$(tail -n 50 "$dir/rounds" | cut -d' ' -f1 | median)
    mem50=$(sed -n 50p "$dir/rounds" | cut -d' ' -f2)
    memend=$(tail -n 1 "$dir/rounds" | cut -d' ' -f2)
    files=$(find "$dir/data/pgrepl_admin" -type f | wc -l)
    echo "rotations: $rounds in one session (ec-p256, served)"
    awk -v f="$first" -v l="$last" 'BEGIN {
        printf "median of the first 50: %8.1f ms\n", f * 1000
        printf "median of the last 50:  %8.1f ms\n", l * 1000
        printf "ratio last / first:     %8.2f\n", l / f
    }'
    awk -v a="$mem50" -v b="$memend" 'BEGIN {
        printf "backend RssAnon after 50: %d kB, at the end: %d kB, growth: %d kB (target < 2048: %s)\n", a, b, b - a, (b - a < 2048) ? "met" : "NOT met"
    }'
    echo "files in \$PGDATA/pgrepl_admin at the end: $files"
    exit 0
fi

# seconds one rotation took, measured in the server around the call
rotate() {
    $psql -At -c "DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN
        PERFORM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '90 days', '$1');
        RAISE NOTICE 'elapsed %', extract(epoch FROM clock_timestamp() - t0); END \$\$" 2>&1 |
        sed -n 's/.*elapsed //p'
}

openssl_pair() {
    local t0 t1
    t0=$(date +%s%N)
    openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=bench \
        -keyout "$dir/server.key" -out "$dir/server.crt" >/dev/null 2>&1
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }'
}

: > "$dir/ec"; : > "$dir/rsa"; : > "$dir/cli"
for _ in $(seq 1 "$rounds"); do
    rotate ec-p256 >> "$dir/ec"
    rotate rsa-2048 >> "$dir/rsa"
    openssl_pair >> "$dir/cli"
done

ec=$(median < "$dir/ec"); rsa=$(median < "$dir/rsa"); cli=$(median < "$dir/cli")
echo "rounds: $rounds (alternating)"
printf '%-40s %8.1f ms\n' "rotate_server_cert ec-p256 (served)" "$(awk -v x="$ec" 'BEGIN { print x * 1000 }')"
printf '%-40s %8.1f ms\n' "rotate_server_cert rsa-2048 (served)" "$(awk -v x="$rsa" 'BEGIN { print x * 1000 }')"
printf '%-40s %8.1f ms\n' "openssl req -x509 rsa:2048 (CLI alone)" "$(awk -v x="$cli" 'BEGIN { print x * 1000 }')"
awk -v e="$ec" -v r="$rsa" -v c="$cli" 'BEGIN {
    printf "ratio ec-p256 rotation / openssl CLI:  %.3f (target < 0.333: %s)\n", e / c, (e / c < 1 / 3) ? "met" : "NOT met"
    printf "ratio rsa-2048 rotation / openssl CLI: %.3f\n", r / c
}'
