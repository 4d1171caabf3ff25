#!/bin/sh
# setup.sh - installs, from Debian's packages, everything ddlproxy needs to
# build, test, benchmark and run its demo. Idempotent; run as root.
set -eu

PACKAGES="
  build-essential autoconf automake libtool pkg-config
  libev-dev libssl-dev uthash-dev libcunit1-dev libjansson-dev
  libmariadb-dev libcurl4-openssl-dev
  mariadb-server mariadb-client etcd-server etcd-client
  sysbench haproxy socat python3 python3-mysqldb openssl curl
  clang libclang-rt-14-dev valgrind debootstrap iproute2 procps
"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: missing packages:$missing (run as root to install them)" >&2
        exit 1
    fi
    echo "setup.sh: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Package scripts must not start the distribution's services: tests start their own.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod +x "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
echo "setup.sh: all packages present" >&2
