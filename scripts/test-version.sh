#!/usr/bin/env bash
# test-version.sh: the whole test suite of pgrepl_admin against one
# PostgreSQL major version installed on this system (scripts/test.sh runs it
# for each version of the matrix, on the host or inside a chroot).
#
# As root: installs the dependencies for PostgreSQL NN, builds the Debian
# package postgresql-NN-pgrepl-admin and installs it, then runs the
# pg_regress suite (on its own temporary instance) and the TAP suite (real
# primaries and standbys) as the postgres OS user, since the server refuses
# to run as root.  As another user: "make install" (which that user must be
# allowed to do) in place of the package.
#
# Usage: scripts/test-version.sh NN
#        PGREPL_PG_CONFIG=/prefix/bin/pg_config scripts/test-version.sh NN
#            against a server built from source (16: scripts/build-pg16.sh)
#            rather than Debian's or PGDG's postgresql-NN
# Prints "PostgreSQL NN: N passed, N failed" last; exit status 0 only when
# every test passed.
set -euo pipefail

major=${1:?usage: $0 NN}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pg_config=${PGREPL_PG_CONFIG:-/usr/lib/postgresql/$major/bin/pg_config}
deps=("$major")
[ -z "${PGREPL_PG_CONFIG:-}" ] || deps=(--no-server "$major")

if [ "$(id -u)" -eq 0 ]; then
    "$here/scripts/install-deps.sh" "${deps[@]}"
    runner=(runuser -u postgres --)
    # The suites run against the package, installed in place of "make
    # install"; t/099_package.pl checks that it is what the server loads.
    package=postgresql-$major-pgrepl-admin
    deb_log=$(mktemp /tmp/pgrepl_admin_deb.XXXXXX)
    make -C "$here" -s deb PG_CONFIG="$pg_config" >"$deb_log" 2>&1 || { tail -30 "$deb_log"; exit 1; }
    rm -f "$deb_log"
    deb=$(ls "$here"/build-deb/"${package}"_*.deb)
    dpkg -i "$deb" >/dev/null
    echo "+++ installed $(basename "$deb") +++"
    runner+=(env PGREPL_PACKAGE="$package")
    # The hosts of t/PgreplNetns.pm are network namespaces, which only root
    # can make: the tests get one root helper, through sudo, for as long as
    # the suites run.  Its namespaces must be made here, so the tests that
    # use them fail rather than skip.
    netns_helper=/usr/local/sbin/pgrepl-test-netns
    netns_sudoers=/etc/sudoers.d/pgrepl-test-netns
    install -m 755 -o root -g root "$here/t/netns/pgrepl-test-netns" "$netns_helper"
    printf 'Defaults!%s !use_pty, !requiretty\npostgres ALL=(root) NOPASSWD: %s\n' \
        "$netns_helper" "$netns_helper" > "$netns_sudoers.tmp"
    chmod 440 "$netns_sudoers.tmp"
    visudo -cqf "$netns_sudoers.tmp"
    mv "$netns_sudoers.tmp" "$netns_sudoers"
    # sudo wants this machine's name to resolve (a chroot's /etc/hosts may
    # not have it)
    getent hosts "$(hostname)" >/dev/null || echo "127.0.1.1 $(hostname)" >> /etc/hosts
    "$netns_helper" cleanup-all
    runner+=(PGREPL_NETNS="$netns_helper" PGREPL_NETNS_REQUIRED=1)
else
    runner=()
    make -C "$here" -s PG_CONFIG="$pg_config"
    make -C "$here" -s install PG_CONFIG="$pg_config"
fi

# The suites write results and clusters next to the sources: run them in a
# copy the test user owns, so the checkout is left as it was.
work=$(mktemp -d /tmp/pgrepl_admin_test.XXXXXX)
cleanup()
{
    rm -rf "$work"
    if [ -n "${netns_helper:-}" ]; then
        "$netns_helper" cleanup-all || true
        rm -f "$netns_sudoers" "$netns_helper"
    fi
}
trap cleanup EXIT
tar -C "$here" --exclude=.git --exclude=./build-deb -cf - . | tar -C "$work" -xf -
chmod 755 "$work"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"

# pg_regress first, then TAP, each run even if the other failed.  The TAP
# files run two at a time (PGREPL_PROVE_JOBS): they share no port (the
# server test modules lock the ones they take in tmp_check), no namespace
# (each file names its own network) and no fixed path; most of their time
# is spent waiting on servers, not on the CPU (doc/benchmarks.md).
set +e
"${runner[@]}" make -C "$work" installcheck PG_CONFIG="$pg_config" TAP_TESTS= 2>&1 | tee "$work/installcheck.log"
rc=${PIPESTATUS[0]}
"${runner[@]}" make -C "$work" installcheck PG_CONFIG="$pg_config" REGRESS= \
    PROVE_FLAGS="-j${PGREPL_PROVE_JOBS:-2}" 2>&1 | tee -a "$work/installcheck.log"
tap_rc=${PIPESTATUS[0]}
set -e
[ "$rc" -ne 0 ] || rc=$tap_rc

if [ "$rc" -ne 0 ]; then
    for f in "$work/regression.diffs" "$work"/tmp_check/log/regress_log_*; do
        [ -f "$f" ] || continue
        grep -qE 'not ok|Bail out!|^# Looks like your test exited' "$f" 2>/dev/null || [ "$f" = "$work/regression.diffs" ] || continue
        echo "=== $f (last 100 lines)"
        tail -n 100 "$f"
        # and the servers that file ran (NNN_name_node.log)
        [ "$f" = "$work/regression.diffs" ] && continue
        for s in "$work/tmp_check/log/${f##*/regress_log_}"_*.log; do
            [ -f "$s" ] || continue
            echo "=== $s (last 30 lines)"
            tail -n 30 "$s"
        done
    done
fi

# One closing line for both suites: pg_regress's "All N tests passed." or
# "M of N tests failed.", and prove's "Files=.., Tests=N" plus failures.
log="$work/installcheck.log"
regress_total=$(grep -oE 'All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests failed' "$log" | grep -oE '[0-9]+ tests' | grep -oE '[0-9]+' | head -1 || true)
regress_failed=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$log" | grep -oE '^[0-9]+' | head -1 || true)
tap_total=$(grep -oE 'Files=[0-9]+, Tests=[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
tap_failed=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$log" | grep -oE '^Failed [0-9]+' | grep -oE '[0-9]+' | awk '{s += $1} END {print s + 0}' || true)
total=$(( ${regress_total:-0} + ${tap_total:-0} ))
failed=$(( ${regress_failed:-0} + ${tap_failed:-0} ))
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1    # a suite failed without a count (e.g. a script died)
fi
[ "$total" -ge "$failed" ] || total=$failed
echo "PostgreSQL $major: $(( total - failed )) passed, $failed failed"
exit "$rc"
