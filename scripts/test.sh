#!/usr/bin/env bash
# test.sh: the whole test suite of pgrepl_admin on every supported PostgreSQL
# major version, from a fresh Debian 12 machine.
#
# For each version of PG_VERSIONS (default "15 16 17 18 19") it runs
# scripts/test-version.sh: build the package postgresql-NN-pgrepl-admin,
# install it, run the pg_regress and TAP suites against it.  15 is Debian
# 12's own and runs on this machine.  16 is in no Debian suite we reach: it
# runs on this machine too, from an installed postgresql-16 (the PGDG
# archive) where there is one, else from a build of the REL_16_STABLE
# source (scripts/build-pg16.sh: made once per machine, cached by the
# tarball's sha256; no tarball and no package: 16 is skipped, and the
# summary says so).  17 (Debian 13 "trixie"), 18 (Debian "sid") and 19
# (sid with "experimental", until sid carries 19: apt takes the highest
# version of either) need a newer glibc, so each runs in a chroot that
# debootstrap makes from the machine's own Debian mirror, with /dev, /proc
# and /dev/shm mounted in it and unmounted and removed afterwards, also
# when a test fails.  The chroots and the 16 build are made while the first
# version's suites run.
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
versions=${PG_VERSIONS:-15 16 17 18 19}
fuzz_seconds=${FUZZ_SECONDS:-30}

# the Debian suite that has postgresql-NN ("source": none that we reach,
# built here); 19 is in sid's "experimental" add-on
suite_of()
{
    case "$1" in
        15) echo bookworm ;;
        16) echo source ;;
        17) echo trixie ;;
        18|19) echo sid ;;
        *) return 1 ;;
    esac
}
# the name of NN's chroot (under PGREPL_CHROOT_DIR when it is kept)
chroot_name_of()
{
    case "$1" in
        19) echo sid-experimental ;;
        *) suite_of "$1" ;;
    esac
}
# whether NN runs on this machine itself, outside any chroot
on_host()
{
    [ "$(suite_of "$1")" = "$host_suite" ] || [ "$(suite_of "$1")" = source ]
}

if [ "$(id -u)" -ne 0 ]; then
    # (as a non-root user: the host's own 15 only)
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
# Debian's own PostgreSQL packages of a version, or the PGDG archive's
debian_pg_config() { echo "/usr/lib/postgresql/$1/bin/pg_config"; }
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
    local major=$1 suite name dir
    suite=$(suite_of "$major")
    name=$(chroot_name_of "$major")
    if [ -n "${PGREPL_CHROOT_DIR:-}" ]; then
        dir=$PGREPL_CHROOT_DIR/$name
        mkdir -p "$dir"
    else
        dir=$(mktemp -d /var/tmp/pgrepl_admin_chroot_$name.XXXXXX)
        # the chroot's / must be open to the postgres user, not mktemp's 0700
        chmod 755 "$dir"
    fi
    if [ ! -x "$dir/usr/lib/postgresql/$major/bin/postgres" ]; then
        if [ "$major" = 19 ]; then
            make_experimental_chroot "$dir" || return 1
        else
            debootstrap --variant=minbase \
                --include="$("$here/scripts/install-deps.sh" --list "$major" | tr ' ' ,)" \
                "$suite" "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 ||
                { tail -20 "$dir.debootstrap.log"; return 1; }
        fi
        rm -f "$dir.debootstrap.log"
    fi
    echo "$dir"
}

# make_experimental_chroot DIR: sid, then PostgreSQL 19 from sid or
# "experimental", whichever has the higher version (19~rc1 is only in
# experimental today; a 19.x in sid is taken with no change here).  Two
# traps: postgresql-common's postinst needs /proc, and the Release files of
# sid and experimental that the mirror serves may be past their
# Valid-Until.
make_experimental_chroot()
{
    local dir=$1 log=$1.debootstrap.log rc=0
    debootstrap --variant=minbase \
        --include="$("$here/scripts/install-deps.sh" --list --no-server 19 | tr ' ' ,)" \
        sid "$dir" "$mirror" >"$log" 2>&1 || { tail -20 "$log"; return 1; }
    echo "deb $mirror experimental main" > "$dir/etc/apt/sources.list.d/experimental.list"
    # experimental at sid's priority: apt installs the highest version of
    # the two (by default experimental is pinned below sid at 1)
    printf 'Package: *\nPin: release a=experimental\nPin-Priority: 500\n' \
        > "$dir/etc/apt/preferences.d/experimental"
    echo 'Acquire::Check-Valid-Until "false";' > "$dir/etc/apt/apt.conf.d/99pgrepl-valid-until"
    mkdir -p "$dir/etc/postgresql-common/createcluster.d"
    echo 'create_main_cluster = false' > "$dir/etc/postgresql-common/createcluster.d/pgrepl_admin-no-main.conf"
    cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
    mount -t proc proc "$dir/proc" || return 1
    chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive bash -c \
        'apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-19 postgresql-server-dev-19' \
        >>"$log" 2>&1 || rc=1
    umount -l "$dir/proc" || true
    [ "$rc" -eq 0 ] || { tail -20 "$log"; return 1; }
}

# pg16_pg_config: the pg_config of PostgreSQL 16 on this machine: an
# installed postgresql-16 (PGDG), else the cached source build (made now if
# needed); nothing when there is neither a package nor the source
pg16_pg_config()
{
    local prefix
    if [ -x "$(debian_pg_config 16)" ]; then
        debian_pg_config 16
    elif "$here/scripts/build-pg16.sh" --find >/dev/null 2>&1; then
        prefix=$("$here/scripts/build-pg16.sh" | tail -1) || return 1
        echo "$prefix/bin/pg_config"
    fi
}

# the chroots and the 16 build are made while the host's own version is
# tested
for v in $versions; do
    suite=$(suite_of "$v") || { echo "PostgreSQL $v is not packaged for any Debian suite we reach" >&2; exit 2; }
    [ "$suite" = "$host_suite" ] && continue
    out=/tmp/pgrepl_admin_chroot_$v.$$
    if [ "$suite" = source ]; then
        pg16_pg_config >"$out" 2>&1 &
    else
        make_chroot "$v" >"$out" 2>&1 &
    fi
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
    elif [ "$(suite_of "$v")" = source ]; then
        out=/tmp/pgrepl_admin_chroot_$v.$$
        if ! wait "${prep_pid[$v]}"; then
            cat "$out"
            echo "PostgreSQL $v: 0 passed, 1 failed (the build of its source failed)" | tee "$log"
            rc=1
            results+=("$(tail -1 "$log")")
            rm -f "$out"
            continue
        fi
        pg_config=$(tail -1 "$out")
        rm -f "$out"
        if [ -z "$pg_config" ]; then
            # not a failure of ours, but never a silent one
            results+=("PostgreSQL $v: SKIPPED, 0 passed, 0 failed: neither postgresql-$v (PGDG) nor its source (PGREPL_PG16_SOURCE, ../shared/pg16, /work/shared/pg16) is on this machine")
            echo "${results[-1]}"
            continue
        fi
        echo "+++ PostgreSQL $v from $pg_config +++"
        set +e
        PGREPL_PG_CONFIG=$pg_config bash "$here/scripts/test-version.sh" "$v" 2>&1 | tee "$log"
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
    p=$(echo "$line" | sed -E 's/.*: (SKIPPED, )?([0-9]+) passed, ([0-9]+) failed.*/\2/')
    f=$(echo "$line" | sed -E 's/.*: (SKIPPED, )?([0-9]+) passed, ([0-9]+) failed.*/\3/')
    passed=$(( passed + p ))
    failed=$(( failed + f ))
done
echo "tests: $passed passed, $failed failed"
exit "$rc"
