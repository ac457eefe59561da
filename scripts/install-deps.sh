#!/usr/bin/env bash
# install-deps.sh: install what building, packaging and testing pgrepl_admin
# against PostgreSQL NN needs on Debian, with apt-get.  Run as root.
# Packages that are already installed are not fetched again.
#
# Usage: install-deps.sh [NN]          install for PostgreSQL NN (default 15,
#                                      Debian 12's own)
#        install-deps.sh --list [NN]   print the package list and exit (the
#                                      test matrix gives it to debootstrap)
#        install-deps.sh --host        also what only the machine running the
#                                      matrix needs: debootstrap (the other
#                                      versions' chroots) and clang (the
#                                      libFuzzer harness), and what building
#                                      PostgreSQL 16 from source needs
#        install-deps.sh --no-server NN  all but postgresql-NN and its
#                                      headers (a server built from source,
#                                      or one installed later)
set -euo pipefail

list=0
host=0
server=1
major=15
for arg in "$@"; do
    case "$arg" in
        --list) list=1 ;;
        --host) host=1 ;;
        --no-server) server=0 ;;
        [0-9]*) major=$arg ;;
        *) echo "usage: $0 [--list] [--host] [--no-server] [NN]" >&2; exit 2 ;;
    esac
done

packages=(
    make gcc build-essential      # the compiler, PGXS's make, and what dpkg-buildpackage checks for
    libssl-dev                    # OpenSSL 3 libcrypto/libssl headers
    libipc-run-perl               # for the TAP tests (PostgreSQL::Test::Cluster)
    rsync                         # standby cloning
    openssl                       # tests only: a hand-made certificate, as users make today
    procps                        # tests only: ps and pkill
    debhelper dpkg-dev fakeroot   # make deb: the postgresql-NN-pgrepl-admin package
    man-db                        # tests only: man renders pgrepl_clone_standby's man page
    strace                        # tests only: what the clone syncs, a backup worker slowed down
    iproute2 sudo                 # tests only: hosts in network namespaces (t/PgreplNetns.pm)
    openssh-server openssh-client # tests only: the clone over ssh between those hosts
    prometheus prometheus-postgres-exporter # tests only: promtool (in prometheus on bookworm, its own
                                  # package, a dependency, from trixie on) checks and unit-tests
                                  # contrib/prometheus_alerts.yml; a real exporter and Prometheus
                                  # fire its alerts (t/089_prometheus_alerts.pl)
)
if [ "$server" -eq 1 ]; then
    packages+=(
        "postgresql-$major"           # the server the extension runs in
        "postgresql-server-dev-$major" # its headers and PGXS
    )
fi
if [ "$host" -eq 1 ]; then
    packages+=(
        debootstrap               # the chroots of the versions Debian 12 does not have
        clang libclang-rt-14-dev  # the libFuzzer harness (make fuzz) and its runtimes
        bison flex zlib1g-dev pkg-config # PostgreSQL 16 from its git source (scripts/build-pg16.sh)
    )
fi

if [ "$list" -eq 1 ]; then
    echo "${packages[*]}"
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    # the services among them (prometheus-node-exporter comes as a
    # recommendation where recommendations are installed) that exist before
    had_services=" "
    for svc in prometheus prometheus-node-exporter prometheus-postgres-exporter; do
        if dpkg-query -W -f='${Status}' "$svc" 2>/dev/null | grep -q 'install ok installed'; then
            had_services+="$svc "
        fi
    done
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Debian's postgresql-common creates and starts a "main" cluster; we
    # never use it, and keep it from being created.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/pgrepl_admin-no-main.conf
    # Nor do we want the system's sshd (or any other service) started: the
    # tests run their own sshd inside a network namespace.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        made_policy=1
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The tests start their own exporter and Prometheus on free loopback
    # ports: the packages' services must not run here (policy-rc.d above
    # keeps them from starting, unless an existing policy allows it), nor
    # start at the next boot.  Only those installed now: a service someone
    # set up before is theirs.
    for svc in prometheus prometheus-node-exporter prometheus-postgres-exporter; do
        case "$had_services" in *" $svc "*) continue ;; esac
        [ -e "/lib/systemd/system/$svc.service" ] || [ -e "/etc/init.d/$svc" ] || continue
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
            systemctl disable --now "$svc" >/dev/null 2>&1 || true
        else
            if command -v deb-systemd-helper >/dev/null; then
                deb-systemd-helper disable "$svc.service" >/dev/null 2>&1 || true
            fi
            if [ -e "/etc/init.d/$svc" ]; then
                invoke-rc.d --skip-systemd-native "$svc" stop >/dev/null 2>&1 || true
                update-rc.d "$svc" disable >/dev/null 2>&1 || true
            fi
        fi
    done
fi
