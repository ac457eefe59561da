#!/usr/bin/env bash
# demo.sh: the pgrepl_admin demo, from a fresh Debian 12 machine.  Installs
# the dependencies, builds and installs the extension, then runs
# demo-clusters.sh as the postgres OS user: a throwaway primary and standby on
# loopback and what pgrepl_admin reports about them.
#
# Usage: sudo scripts/demo.sh   (or as root; as another user it skips the
#        dependencies and needs permission to "make install")
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "$(id -u)" -eq 0 ]; then
    "$here/scripts/install-deps.sh"
fi
make -C "$here" -s
make -C "$here" -s install

if [ "$(id -u)" -eq 0 ]; then
    # the server refuses to run as root; the script is read from standard
    # input so that the postgres user need not be able to read the checkout
    cd /tmp
    runuser -u postgres -- env DEMO_PORT="${DEMO_PORT:-55432}" DEMO_KEEP="${DEMO_KEEP:-0}" \
        bash -s < "$here/scripts/demo-clusters.sh"
else
    bash "$here/scripts/demo-clusters.sh"
fi
