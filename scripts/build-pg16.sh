#!/usr/bin/env bash
# build-pg16.sh: PostgreSQL 16 from its unmodified REL_16_STABLE source,
# built once per machine and cached by the source tarball's sha256.
#
# No Debian suite we reach carries PostgreSQL 16, so the test matrix builds
# it: server, client tools, contrib (postgres_fdw is used by the tests),
# PGXS, pg_regress and the PostgreSQL::Test::Cluster perl modules, with
# OpenSSL and the TAP tests enabled.  The result is left in
# $PGREPL_PG16_CACHE/pg16-<sha256 of the tarball> (default
# /var/cache/pgrepl_admin) and reused by every later run; a build that did
# not finish leaves nothing behind that looks finished.
#
# The tarball is looked for in $PGREPL_PG16_SOURCE (a file or a folder),
# then ../shared/pg16/ next to the checkout, then /work/shared/pg16/.
#
# Usage: build-pg16.sh            build if needed; prints the prefix (its
#                                 bin/pg_config is the one to use) last
#        build-pg16.sh --find     print the tarball's path, or exit 1
# Exit status 3 when no tarball is found.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${PGREPL_PG16_CACHE:-/var/cache/pgrepl_admin}

find_tarball()
{
    local c f
    for c in "${PGREPL_PG16_SOURCE:-}" "$here/../shared/pg16" /work/shared/pg16; do
        [ -n "$c" ] || continue
        if [ -f "$c" ]; then
            echo "$c"
            return 0
        fi
        for f in "$c"/postgresql-16-*.tar.gz; do
            [ -f "$f" ] && { echo "$f"; return 0; }
        done
    done
    return 1
}

tarball=$(find_tarball) || { echo "build-pg16: no PostgreSQL 16 source tarball (PGREPL_PG16_SOURCE, ../shared/pg16, /work/shared/pg16)" >&2; exit 3; }
if [ "${1:-}" = "--find" ]; then
    echo "$tarball"
    exit 0
fi

sha=$(sha256sum "$tarball" | cut -d' ' -f1)
prefix=$cache/pg16-$sha
if [ -x "$prefix/bin/pg_config" ] && [ -f "$prefix/.complete" ]; then
    echo "$prefix"
    exit 0
fi

mkdir -p "$cache"
# one build at a time per cache (two runs on one machine wait for each other)
exec 9>"$cache/pg16-$sha.lock"
flock 9
if [ -f "$prefix/.complete" ]; then
    echo "$prefix"
    exit 0
fi
rm -rf "$prefix" "$prefix.build"
mkdir -p "$prefix.build"
log=$prefix.build/build.log
echo "build-pg16: building PostgreSQL 16 from $tarball into $prefix (log: $log)" >&2
# (one && chain: "set -e" does not hold inside a subshell tested by ||)
{
    cd "$prefix.build" &&
    tar xzf "$tarball" &&
    cd postgresql-16-*/ &&
    ./configure --prefix="$prefix" --with-openssl --without-icu --enable-tap-tests \
        --without-readline >"$log" 2>&1 &&
    make -j"$(nproc)" -s world-bin >>"$log" 2>&1 &&
    make -s install-world-bin >>"$log" 2>&1 &&
    # PostgreSQL::Test::Cluster and friends, where PGXS's prove_installcheck
    # looks for them (as Debian's postgresql-server-dev packages ship them)
    make -s -C src/test/perl install >>"$log" 2>&1
} || { tail -30 "$log" >&2; exit 1; }
cd /
chmod -R a+rX "$prefix"
touch "$prefix/.complete"
rm -rf "$prefix.build"
echo "$prefix"
