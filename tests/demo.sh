#!/bin/sh
# demo.sh - installs what is missing, builds ddlproxy and runs the demo:
# MariaDB and a 3-member etcd cluster behind ddlproxy, an ALTER TABLE held by
# a metadata lock while the etcd leader is partitioned, the latency log printed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tests/setup.sh
[ -x configure ] || ./autogen.sh >/dev/null
mkdir -p build/release
cd build/release
[ -f Makefile ] || "$top/configure" -q
make -s -j"$(nproc)"
DDLPROXY_BUILDDIR=$(pwd) exec /usr/bin/python3 -u "$top/tests/demo.py"
