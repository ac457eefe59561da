#!/usr/bin/env bash
# test.sh: the whole test suite of pgrepl_admin on every supported PostgreSQL
# major version, from a fresh Debian 12 machine.
#
# For each version of PG_VERSIONS (default "15 17 18") it runs
# scripts/test-version.sh: build the package postgresql-NN-pgrepl-admin,
# install it, run the pg_regress and TAP suites against it.  15 is Debian
# 12's own and runs on this machine; 17 (Debian 13 "trixie") and 18 (Debian
# "sid") need a newer glibc, so each runs in a chroot that debootstrap makes
# from the machine's own Debian mirror, with /dev, /proc and /dev/shm
# mounted in it and unmounted and removed afterwards, also when a test fails.
# Last, the libFuzzer harness of the pg_hba.conf text functions runs for
# FUZZ_SECONDS (default 30; 0 skips it): that code is plain C, the same on
# every version.
#
# Usage: sudo scripts/test.sh                      (or as root)
#        sudo PG_VERSIONS="17" scripts/test.sh     one version
#        scripts/test.sh                           as a non-root user who may
#                                                  "make install": the host's
#                                                  own 15 only, no apt-get
# Set PGREPL_CHROOT_DIR to keep the chroots there and reuse them on the next
# run (for development; CI makes them afresh).
#
# Prints "PostgreSQL NN: N passed, N failed" for each version, then
# "tests: N passed, N failed" over all of them; exit status 0 only when
# every test passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
versions=${PG_VERSIONS:-15 17 18}
fuzz_seconds=${FUZZ_SECONDS:-30}

# the Debian suite that has postgresql-NN (16 is in none that we reach)
suite_of()
{
    case "$1" in
        15) echo bookworm ;;
        17) echo trixie ;;
        18) echo sid ;;
        *) return 1 ;;
    esac
}

if [ "$(id -u)" -ne 0 ]; then
    bash "$here/scripts/test-version.sh" 15 2>&1 | tee /tmp/pgrepl_admin_test_$$.log
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^PostgreSQL 15: ' /tmp/pgrepl_admin_test_$$.log | tail -1)
    rm -f /tmp/pgrepl_admin_test_$$.log
    echo "tests: $(echo "$line" | sed -E 's/^PostgreSQL 15: //')"
    exit "$rc"
fi

. /etc/os-release
host_suite=${VERSION_CODENAME:-bookworm}
"$here/scripts/install-deps.sh" --host 15
# the machine's own Debian mirror, from a deb822 .sources file or a
# one-line sources.list (as debootstrap and older images write it)
mirror=$( { cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } |
    sed -n -e 's/^URIs: *\(http[^ ]*\/debian\)\/* *$/\1/p' \
           -e 's/^deb  *\(\[[^]]*\] *\)\{0,1\}\(http[^ ]*\/debian\)\/* .*/\2/p' | head -1)
mirror=${mirror:-http://deb.debian.org/debian}

chroots=()
mounted=()
cleanup()
{
    local m
    for (( i=${#mounted[@]}-1; i>=0; i-- )); do
        m=${mounted[$i]}
        if mountpoint -q "$m"; then
            umount -l "$m" || true
        fi
    done
    mounted=()
    # and whatever the tests mounted inside a chroot (ip netns's /run/netns)
    for c in "${chroots[@]}"; do
        { grep -oE " $c/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do
            umount -l "$m" || true
        done
    done
    if [ -z "${PGREPL_CHROOT_DIR:-}" ]; then
        for c in "${chroots[@]}"; do
            # never remove through a mount that is still there
            if [ -d "$c" ] && ! grep -q " $c/" /proc/mounts; then
                rm -rf --one-file-system "$c" || echo "could not remove $c" >&2
            fi
        done
    fi
}
on_exit()
{
    local pid v out dir
    for pid in "${prep_pid[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    # chroots made for versions the run did not reach are removed too
    for v in "${!prep_pid[@]}"; do
        out=/tmp/pgrepl_admin_chroot_$v.$$
        [ -f "$out" ] || continue
        dir=$(tail -1 "$out")
        rm -f "$out"
        case "$dir" in /var/tmp/pgrepl_admin_chroot_*) [ -d "$dir" ] && chroots+=("$dir") ;; esac
    done
    cleanup
}
declare -A prep_pid=()
trap on_exit EXIT
trap 'exit 130' INT TERM

# make_chroot NN: a Debian root with what testing against NN needs, made by
# debootstrap (or reused under PGREPL_CHROOT_DIR); prints its path
make_chroot()
{
    local major=$1 suite dir
    suite=$(suite_of "$major")
    if [ -n "${PGREPL_CHROOT_DIR:-}" ]; then
        dir=$PGREPL_CHROOT_DIR/$suite
        mkdir -p "$dir"
    else
        dir=$(mktemp -d /var/tmp/pgrepl_admin_chroot_$suite.XXXXXX)
        # the chroot's / must be open to the postgres user, not mktemp's 0700
        chmod 755 "$dir"
    fi
    if [ ! -x "$dir/usr/lib/postgresql/$major/bin/postgres" ]; then
        debootstrap --variant=minbase \
            --include="$("$here/scripts/install-deps.sh" --list "$major" | tr ' ' ,)" \
            "$suite" "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 ||
            { tail -20 "$dir.debootstrap.log"; return 1; }
        rm -f "$dir.debootstrap.log"
    fi
    echo "$dir"
}

# the chroots are made while the host's own version is tested
for v in $versions; do
    suite=$(suite_of "$v") || { echo "PostgreSQL $v is not packaged for any Debian suite we reach" >&2; exit 2; }
    [ "$suite" = "$host_suite" ] && continue
    out=/tmp/pgrepl_admin_chroot_$v.$$
    make_chroot "$v" >"$out" 2>&1 &
    prep_pid[$v]=$!
done

results=()
rc=0
for v in $versions; do
    echo "=== PostgreSQL $v ==="
    log=/tmp/pgrepl_admin_test_$v.$$
    if [ "$(suite_of "$v")" = "$host_suite" ]; then
        set +e
        bash "$here/scripts/test-version.sh" "$v" 2>&1 | tee "$log"
        vrc=${PIPESTATUS[0]}
        set -e
    else
        out=/tmp/pgrepl_admin_chroot_$v.$$
        if ! wait "${prep_pid[$v]}"; then
            cat "$out"
            echo "PostgreSQL $v: 0 passed, 1 failed" | tee "$log"
            rc=1
            results+=("$(tail -1 "$log")")
            continue
        fi
        dir=$(tail -1 "$out")
        rm -f "$out"
        chroots+=("$dir")
        # the chroot's root is a private mount point of its own: ip netns
        # (t/PgreplNetns.pm) mounts under /run/netns and needs it
        mount --bind "$dir" "$dir" && mount --make-private "$dir" && mounted+=("$dir")
        mount --bind /dev "$dir/dev" && mounted+=("$dir/dev")
        mount -t proc proc "$dir/proc" && mounted+=("$dir/proc")
        mount -t tmpfs tmpfs "$dir/dev/shm" && mounted+=("$dir/dev/shm")
        cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
        rm -rf "$dir/pgrepl_admin"
        mkdir "$dir/pgrepl_admin"
        tar -C "$here" --exclude=.git --exclude=./build-deb -cf - . | tar -C "$dir/pgrepl_admin" -xf -
        set +e
        chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
            bash /pgrepl_admin/scripts/test-version.sh "$v" 2>&1 | tee "$log"
        vrc=${PIPESTATUS[0]}
        set -e
        cleanup
    fi
    line=$(grep -E "^PostgreSQL $v: [0-9]+ passed, [0-9]+ failed" "$log" | tail -1 || true)
    [ -n "$line" ] || line="PostgreSQL $v: 0 passed, 1 failed"
    results+=("$line")
    [ "$vrc" -eq 0 ] || rc=$vrc
    rm -f "$log"
done

# the libFuzzer harness of the pg_hba.conf text functions, for a bounded time
fuzz_line=""
if [ "$fuzz_seconds" -gt 0 ]; then
    echo "+++ fuzzing src/hba_text.c for $fuzz_seconds s +++"
    work=$(mktemp -d /tmp/pgrepl_admin_fuzz.XXXXXX)
    tar -C "$here" --exclude=.git --exclude=./build-deb -cf - . | tar -C "$work" -xf -
    chown -R postgres: "$work"
    set +e
    runuser -u postgres -- make -C "$work" -s fuzz FUZZ_SECONDS="$fuzz_seconds" >"$work/fuzz.log" 2>&1
    fuzz_rc=$?
    set -e
    grep -E '^Done [0-9]+ runs|ERROR|SUMMARY|deadly signal' "$work/fuzz.log" | tail -5
    if [ "$fuzz_rc" -ne 0 ]; then
        tail -n 100 "$work/fuzz.log"
        rc=$fuzz_rc
        fuzz_line="fuzzing: 0 passed, 1 failed"
    else
        fuzz_line="fuzzing: 1 passed, 0 failed"
    fi
    rm -rf "$work"
fi

echo
passed=0
failed=0
for line in "${results[@]}" ${fuzz_line:+"$fuzz_line"}; do
    echo "$line"
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
    f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    passed=$(( passed + p ))
    failed=$(( failed + f ))
done
echo "tests: $passed passed, $failed failed"
exit "$rc"
