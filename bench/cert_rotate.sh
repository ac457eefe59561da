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
# Usage: bench/cert_rotate.sh [ROUNDS]   (as root it runs as postgres;
#        needs the extension installed: make install)
set -euo pipefail

rounds=${1:-30}
if [ "$(id -u)" -eq 0 ]; then
    script=$(readlink -f "$0")
    cd /tmp
    exec runuser -u postgres -- bash -s "$rounds" < "$script"
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
CONF
pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null
psql="psql -X -q -h $dir -p $port -d postgres -v ON_ERROR_STOP=1"
$psql -c 'CREATE EXTENSION pgrepl_admin' -c "SELECT pgrepl_admin.ca_init()" >/dev/null

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

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ec=$(median "$dir/ec"); rsa=$(median "$dir/rsa"); cli=$(median "$dir/cli")
echo "rounds: $rounds (alternating)"
printf '%-40s %8.1f ms\n' "rotate_server_cert ec-p256 (served)" "$(awk -v x="$ec" 'BEGIN { print x * 1000 }')"
printf '%-40s %8.1f ms\n' "rotate_server_cert rsa-2048 (served)" "$(awk -v x="$rsa" 'BEGIN { print x * 1000 }')"
printf '%-40s %8.1f ms\n' "openssl req -x509 rsa:2048 (CLI alone)" "$(awk -v x="$cli" 'BEGIN { print x * 1000 }')"
awk -v e="$ec" -v r="$rsa" -v c="$cli" 'BEGIN {
    printf "ratio ec-p256 rotation / openssl CLI:  %.3f (target < 0.333: %s)\n", e / c, (e / c < 1 / 3) ? "met" : "NOT met"
    printf "ratio rsa-2048 rotation / openssl CLI: %.3f\n", r / c
}'
