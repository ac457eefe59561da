#!/usr/bin/env bash
# install-deps.sh: install what building, testing and demonstrating
# pgrepl_admin needs on Debian 12, with apt-get.  Run as root.  Packages that
# are already installed are not fetched again.
set -euo pipefail

packages=(
    make gcc                      # the compiler and PGXS's make
    postgresql-15                 # the server the extension runs in
    postgresql-server-dev-15      # its headers and PGXS
    libssl-dev                    # OpenSSL 3 libcrypto/libssl headers
    libipc-run-perl               # for the TAP tests (PostgreSQL::Test::Cluster)
    rsync                         # standby cloning
    openssl                       # tests only: a hand-made certificate, as users make today
    strace                        # tests only: what the clone syncs, a backup worker slowed down
    clang                         # tests only: the libFuzzer harness (make fuzz)
    libclang-rt-14-dev            # its fuzzer and sanitizer runtimes
    debhelper dpkg-dev fakeroot   # make deb: the postgresql-15-pgrepl-admin package
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Debian's postgresql-common creates and starts a "main" cluster; we
    # never use it, and keep it from being created.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/pgrepl_admin-no-main.conf
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
