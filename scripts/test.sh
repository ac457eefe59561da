#!/usr/bin/env bash
# test.sh: the whole test suite of pgrepl_admin, from a fresh Debian 12
# machine: installs the dependencies, builds the Debian package
# postgresql-15-pgrepl-admin and installs it (as root; otherwise "make
# install"), then
# runs the pg_regress suite (on its own temporary instance), the TAP suite
# (real primaries and standbys) and the libFuzzer harness of the pg_hba.conf
# text functions (FUZZ_SECONDS, default 30) as the postgres OS user, since
# the server refuses to run as root.
#
# Usage: sudo scripts/test.sh            (or as root)
#        scripts/test.sh                 (as a non-root user who may run
#                                         "make install"; no apt-get)
# Exit status 0 only when every test passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "$(id -u)" -eq 0 ]; then
    "$here/scripts/install-deps.sh"
    runner=(runuser -u postgres --)
    # The suites run against the package, installed in place of "make
    # install"; t/099_package.pl checks that it is what the server loads.
    deb_log=$(mktemp /tmp/pgrepl_admin_deb.XXXXXX)
    make -C "$here" -s deb >"$deb_log" 2>&1 || { tail -30 "$deb_log"; exit 1; }
    rm -f "$deb_log"
    deb=$(ls "$here"/build-deb/postgresql-15-pgrepl-admin_*.deb)
    dpkg -i "$deb" >/dev/null
    echo "+++ installed $(basename "$deb") +++"
    runner+=(env PGREPL_PACKAGE=postgresql-15-pgrepl-admin)
else
    runner=()
    make -C "$here" -s
    make -C "$here" -s install
fi

# The suites write results and clusters next to the sources: run them in a
# copy the test user owns, so the checkout is left as it was.
work=$(mktemp -d /tmp/pgrepl_admin_test.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar -C "$here" --exclude=.git --exclude=./build-deb -cf - . | tar -C "$work" -xf -
chmod 755 "$work"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"

# pg_regress first, then TAP, each run even if the other failed
set +e
"${runner[@]}" make -C "$work" installcheck TAP_TESTS= 2>&1 | tee "$work/installcheck.log"
rc=${PIPESTATUS[0]}
"${runner[@]}" make -C "$work" installcheck REGRESS= 2>&1 | tee -a "$work/installcheck.log"
tap_rc=${PIPESTATUS[0]}
# the libFuzzer harness of the pg_hba.conf text functions, for a bounded time
echo "+++ fuzzing src/hba_text.c for ${FUZZ_SECONDS:-30} s +++"
"${runner[@]}" make -C "$work" -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}" >"$work/fuzz.log" 2>&1
fuzz_rc=$?
grep -E '^Done [0-9]+ runs|ERROR|SUMMARY|deadly signal' "$work/fuzz.log" | tail -5
set -e
[ "$rc" -ne 0 ] || rc=$tap_rc
[ "$rc" -ne 0 ] || rc=$fuzz_rc

if [ "$rc" -ne 0 ]; then
    for f in "$work/regression.diffs" "$work"/tmp_check/log/regress_log_* "$work/fuzz.log"; do
        [ -f "$f" ] || continue
        echo "=== $f (last 100 lines)"
        tail -n 100 "$f"
    done
fi

# One closing line for both suites: pg_regress's "All N tests passed." or
# "M of N tests failed.", and prove's "Files=.., Tests=N" plus failures.
log="$work/installcheck.log"
regress_total=$(grep -oE 'All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests failed' "$log" | grep -oE '[0-9]+ tests' | grep -oE '[0-9]+' | head -1 || true)
regress_failed=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$log" | grep -oE '^[0-9]+' | head -1 || true)
tap_total=$(grep -oE 'Files=[0-9]+, Tests=[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
tap_failed=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$log" | grep -oE '^Failed [0-9]+' | grep -oE '[0-9]+' | awk '{s += $1} END {print s + 0}' || true)
total=$(( ${regress_total:-0} + ${tap_total:-0} + 1 ))
failed=$(( ${regress_failed:-0} + ${tap_failed:-0} + (fuzz_rc != 0) ))
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1    # a suite failed without a count (e.g. a script died)
fi
echo "tests: $(( total - failed )) passed, $failed failed"
exit "$rc"
