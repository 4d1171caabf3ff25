#!/bin/bash
# test_docker_local.sh - end-to-end test of the docker/local topology:
# MariaDB, etcd x3 and ddlproxy in containers built from Debian packages.
#
# It builds the images (cached), starts the topology under a unique compose
# project name, runs a DDL through ddlproxy while another session holds the
# table's metadata lock, partitions the etcd leader with
# 'ddlproxyctl fault add leader:etcd partition', checks that the other members
# elect a new leader and that the DDL's latency-log record names the fault,
# heals, and tears everything down (containers, network, volumes) in a trap,
# also when a step fails.
#
# Skips (exit 77, automake's SKIP) when no Docker engine answers 'docker info'
# or docker-compose is missing. Needs root the first time, to build the base
# images (docker/build-base-image.sh: debootstrap + chroot).
#
# Environment: DDLPROXY_IMAGE (default ddlproxy:local) and DDLPROXY_CACHE (see
# docker/build-base-image.sh); KEEP_ON_FAILURE=1 leaves the topology running
# after a failure for inspection (then: docker-compose -p PROJECT down -v).
set -u

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
COMPOSE_FILE="$ROOT/docker/local/docker-compose.yml"
IMAGE="${DDLPROXY_IMAGE:-ddlproxy:local}"
PROJECT="ddlptest$$$(date +%s | tail -c 5)"
DB_USER=ddlp
DB_PASSWORD=ddlp-local
DB_NAME=test
SKIP=77

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
note() { echo "  .. [${SECONDS}s] $*"; }
summary() { echo "$PASSED passed, $FAILED failed"; }
skip() {
    echo "SKIP: $*"
    echo "0 passed, 0 failed (skipped)"
    exit $SKIP
}
abort() {
    fail "$*"
    summary
    exit 1
}

# ---- prerequisites --------------------------------------------------------
docker info > /dev/null 2>&1 || skip "no Docker engine answers 'docker info'"
if command -v docker-compose > /dev/null 2>&1; then
    COMPOSE=(docker-compose)
elif docker compose version > /dev/null 2>&1; then
    COMPOSE=(docker compose)
else
    skip "neither docker-compose nor the 'docker compose' plugin is installed"
fi
command -v python3 > /dev/null || skip "python3 is needed to read the JSON replies"
dc() { "${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" "$@"; }
# Commands inside the topology's containers (no TTY: output is captured).
in_c() { local svc="$1"; shift; dc exec -T "$svc" "$@"; }
ctl() { in_c ddlproxy ddlproxyctl -s /run/ddlproxy/admin.sock --json "$@"; }
# SQL through ddlproxy (the client runs in the MariaDB container, connects to
# the ddlproxy service) and SQL straight to MariaDB (root over its socket).
sql_proxy() { in_c mariadb mariadb -h ddlproxy -P 3306 -u "$DB_USER" -p"$DB_PASSWORD" -N -B "$DB_NAME" -e "$1"; }
sql_direct() { in_c mariadb mariadb --protocol=socket -uroot -N -B "$DB_NAME" -e "$1"; }
# json_get 'EXPR' evaluates a Python expression over the JSON read from stdin as j.
json_get() { python3 -c 'import json,sys; j=json.load(sys.stdin); v=('"$1"'); print(v if not isinstance(v,(dict,list)) else json.dumps(v))'; }

BG_PIDS=()
STARTED=0
teardown() {
    local rc=$?
    for p in "${BG_PIDS[@]}"; do kill "$p" 2> /dev/null; done
    [ "$STARTED" = 1 ] || return
    if [ "$FAILED" -gt 0 ] || [ "$rc" -ne 0 ]; then
        echo "---- ddlproxy log (last 60 lines) ----"
        dc logs --no-color --tail=60 ddlproxy 2> /dev/null
        echo "---- container states ----"
        dc ps 2> /dev/null
        if [ "${KEEP_ON_FAILURE:-0}" = 1 ]; then
            echo "KEEP_ON_FAILURE=1: topology left running; remove it with:"
            echo "  ${COMPOSE[*]} -p $PROJECT -f $COMPOSE_FILE down -v --remove-orphans"
            return
        fi
    fi
    dc down -v --remove-orphans -t 5 > /dev/null 2>&1 \
        || echo "warning: '${COMPOSE[*]} -p $PROJECT down' failed; remove the project's containers by hand"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# ---- images ---------------------------------------------------------------
need_build=0
for img in ddlproxy-builder:bookworm ddlproxy-runtime:bookworm ddlproxy-mariadb:bookworm ddlproxy-etcd:bookworm; do
    docker image inspect "$img" > /dev/null 2>&1 || need_build=1
done
if [ "$need_build" = 1 ]; then
    [ "$(id -u)" = 0 ] || skip "base images missing and not root: run docker/build-base-image.sh as root first"
    command -v debootstrap > /dev/null || skip "base images missing and debootstrap is not installed"
    note "building base images (docker/build-base-image.sh; first run takes a few minutes)"
    "$ROOT/docker/build-base-image.sh" builder runtime mariadb etcd || abort "docker/build-base-image.sh failed"
fi

# The context is streamed as a tar with .dockerignore's exclusions (the old
# builder of docker 28 without buildx reads no ignore file from stdin contexts).
note "building $IMAGE from the working tree"
build_log="$(mktemp)"
if (cd "$ROOT" && tar -c --exclude-from=<(grep -v -e '^#' -e '^$' .dockerignore) . ) \
    | docker build -q -f docker/Dockerfile -t "$IMAGE" \
        --build-arg BUILDER_IMAGE=ddlproxy-builder:bookworm \
        --build-arg BASE_IMAGE=ddlproxy-runtime:bookworm - > "$build_log" 2>&1; then
    pass "image $IMAGE builds from docker/Dockerfile"
else
    tail -40 "$build_log"
    rm -f "$build_log"
    abort "docker build of $IMAGE failed"
fi
rm -f "$build_log"
export DDLPROXY_IMAGE="$IMAGE"

# ---- topology ---------------------------------------------------------------
note "starting project $PROJECT"
STARTED=1
dc up -d --no-build > /dev/null 2>&1 || { dc up -d --no-build; abort "docker-compose up failed"; }

# Waits (bounded) until every service's container reports healthy.
wait_healthy() {
    local deadline=$((SECONDS + $1)) svc cid state all
    while [ $SECONDS -lt $deadline ]; do
        all=1
        for svc in mariadb etcd1 etcd2 etcd3 ddlproxy; do
            cid="$(dc ps -q "$svc" 2> /dev/null)"
            state="$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$cid" 2> /dev/null)"
            [ "$state" = healthy ] || { all=0; break; }
        done
        [ $all = 1 ] && return 0
        sleep 2
    done
    for svc in mariadb etcd1 etcd2 etcd3 ddlproxy; do
        cid="$(dc ps -q "$svc" 2> /dev/null)"
        echo "  $svc: $(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$cid" 2> /dev/null)"
    done
    return 1
}
if wait_healthy 180; then
    pass "mariadb, etcd x3 and ddlproxy are healthy"
else
    abort "topology not healthy within 180 s"
fi

# etcd status of one member, asked directly (inside its container, not through
# ddlproxy): prints "MEMBER_ID LEADER_ID", or nothing when it does not answer.
etcd_status() {
    in_c "$1" etcdctl --endpoints=http://127.0.0.1:2379 --command-timeout=2s \
        endpoint status -w json 2> /dev/null \
        | json_get '"%d %d" % (j[0]["Status"]["header"]["member_id"], j[0]["Status"]["leader"])' 2> /dev/null
}
declare -A MEMBER_ID
for m in etcd1 etcd2 etcd3; do
    read -r id leader <<< "$(etcd_status "$m")"
    MEMBER_ID[$m]="${id:-}"
    LEADER_ID="${leader:-}"
done
OLD_LEADER=""
for m in etcd1 etcd2 etcd3; do
    [ -n "${MEMBER_ID[$m]}" ] && [ "${MEMBER_ID[$m]}" = "$LEADER_ID" ] && OLD_LEADER=$m
done
[ -n "$OLD_LEADER" ] || abort "cannot tell the etcd leader from 'etcdctl endpoint status' (ids: ${MEMBER_ID[*]}, leader: ${LEADER_ID:-none})"
note "etcd leader: $OLD_LEADER (member id ${MEMBER_ID[$OLD_LEADER]})"

# Every member must list ddlproxy's listeners as its client and peer URLs.
members="$(in_c etcd1 etcdctl --endpoints=http://127.0.0.1:2379 member list -w json 2> /dev/null \
    | json_get '" ".join(sorted(u for m in j["members"] for u in m["peerURLs"] + m["clientURLs"]))' 2> /dev/null)"
want="http://ddlproxy:12379 http://ddlproxy:12380 http://ddlproxy:22379 http://ddlproxy:22380 http://ddlproxy:32379 http://ddlproxy:32380"
if [ "$members" = "$want" ]; then
    pass "etcd members advertise ddlproxy's listeners as client and peer URLs"
else
    fail "etcd member URLs: got '$members', want '$want'"
fi

# Leader discovery in ddlproxy must agree with etcd (bounded: it polls).
seen=""
for _ in $(seq 1 20); do
    seen="$(ctl leader etcd 2> /dev/null | json_get 'j["leader"]["leader"]' 2> /dev/null)"
    [ "$seen" = "$OLD_LEADER" ] && break
    sleep 1
done
if [ "$seen" = "$OLD_LEADER" ]; then
    pass "'ddlproxyctl leader etcd' reports $OLD_LEADER, as etcd does"
else
    fail "'ddlproxyctl leader etcd' reports '${seen:-nothing}', etcd says $OLD_LEADER"
fi

# ---- a DDL behind a metadata lock, through ddlproxy ---------------------------
if sql_proxy "CREATE TABLE t1 (id INT PRIMARY KEY, c INT); INSERT INTO t1 VALUES (1, 1), (2, 2);" > /dev/null; then
    pass "CREATE TABLE and INSERT through ddlproxy"
else
    abort "cannot run SQL through ddlproxy"
fi

# The holder reads t1 in an open transaction, which keeps a shared metadata
# lock until COMMIT; its SLEEP is cut short with KILL QUERY below.
in_c mariadb mariadb --protocol=socket -uroot "$DB_NAME" \
    -e "BEGIN; SELECT COUNT(*) FROM t1; SELECT SLEEP(300) AS holding_mdl; COMMIT;" > /dev/null 2>&1 &
HOLDER_PID=$!
BG_PIDS+=("$HOLDER_PID")
holder_id=""
for _ in $(seq 1 20); do
    holder_id="$(sql_direct "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(300)%'" 2> /dev/null)"
    [ -n "$holder_id" ] && break
    sleep 0.5
done
[ -n "$holder_id" ] || abort "the metadata-lock holder session did not start"

DDL_OUT="$(mktemp)"
sql_proxy "ALTER TABLE t1 ADD COLUMN c2 INT" > "$DDL_OUT" 2>&1 &
DDL_PID=$!
BG_PIDS+=("$DDL_PID")
waiting=""
for _ in $(seq 1 40); do
    waiting="$(sql_direct "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = 'Waiting for table metadata lock' AND INFO LIKE 'ALTER TABLE t1%'" 2> /dev/null)"
    [ "$waiting" = 1 ] && break
    sleep 0.5
done
if [ "$waiting" = 1 ]; then
    pass "the ALTER sent through ddlproxy waits for the metadata lock"
else
    fail "the ALTER is not waiting for the metadata lock (processlist count: '${waiting:-?}')"
fi

active="$(ctl ddl list active 2> /dev/null | json_get '" ".join("%s/%s" % (d.get("kind"), d.get("table")) for d in j["ddls"])' 2> /dev/null)"
if [ "$active" = "add column/t1" ]; then
    pass "'ddlproxyctl ddl list active' shows the waiting ALTER (add column, t1)"
else
    fail "'ddl list active' shows '${active:-nothing}', want 'add column/t1'"
fi

# ---- partition the etcd leader ----------------------------------------------
FAULT_ID="$(ctl fault add leader:etcd partition 2> /dev/null | json_get 'j["id"]' 2> /dev/null)"
if [ -n "$FAULT_ID" ]; then
    pass "'ddlproxyctl fault add leader:etcd partition' -> $FAULT_ID"
else
    fail "'ddlproxyctl fault add leader:etcd partition' failed: $(ctl fault add leader:etcd partition 2>&1 | head -3)"
fi

resolved="$(ctl fault list 2> /dev/null | json_get '" ".join(str(m) for f in j["faults"] if f["id"] == "'"$FAULT_ID"'" for m in f["resolved_members"])' 2> /dev/null)"
if [ "$resolved" = "$OLD_LEADER" ]; then
    pass "the fault resolved leader:etcd to $OLD_LEADER"
else
    fail "the fault resolved leader:etcd to '${resolved:-nothing}', want $OLD_LEADER"
fi

# The two other members must elect one of themselves (election timeout 1 s;
# allow 30 s). Their status is read directly, inside their own containers.
NEW_LEADER=""
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ] && [ -z "$NEW_LEADER" ]; do
    leaders=()
    for m in etcd1 etcd2 etcd3; do
        [ "$m" = "$OLD_LEADER" ] && continue
        read -r _ leader <<< "$(etcd_status "$m")"
        leaders+=("${leader:-none}")
    done
    if [ "${leaders[0]}" = "${leaders[1]}" ] && [ "${leaders[0]}" != none ] \
        && [ "${leaders[0]}" != 0 ] && [ "${leaders[0]}" != "${MEMBER_ID[$OLD_LEADER]}" ]; then
        for m in etcd1 etcd2 etcd3; do
            [ "${MEMBER_ID[$m]}" = "${leaders[0]}" ] && NEW_LEADER=$m
        done
    fi
    [ -n "$NEW_LEADER" ] || sleep 1
done
if [ -n "$NEW_LEADER" ]; then
    pass "etcd elected a new leader ($NEW_LEADER) while $OLD_LEADER is partitioned"
else
    fail "no new etcd leader within 30 s of partitioning $OLD_LEADER"
fi

# Release the metadata lock: the ALTER completes (while the fault is active).
sql_direct "KILL QUERY $holder_id" > /dev/null 2>&1
wait "$HOLDER_PID" 2> /dev/null
ddl_rc=1
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$DDL_PID" 2> /dev/null; then
        wait "$DDL_PID"
        ddl_rc=$?
        break
    fi
    sleep 0.5
done
if [ "$ddl_rc" = 0 ]; then
    pass "the ALTER finished once the metadata lock was released"
else
    fail "the ALTER did not finish cleanly (rc $ddl_rc): $(head -3 "$DDL_OUT")"
fi
rm -f "$DDL_OUT"

# ---- the DDL's record in the latency log --------------------------------------
# The record is written when the client gets its OK: allow a moment.
record=""
for _ in $(seq 1 20); do
    record="$(in_c ddlproxy cat /var/lib/ddlproxy/ddl.jsonl 2> /dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("type") == "ddl" and r.get("table") == "t1" and "ADD COLUMN" in (r.get("statement") or "").upper():
        print(json.dumps(r))
' | tail -n1)"
    [ -n "$record" ] && break
    sleep 0.5
done
if [ -n "$record" ]; then
    pass "the latency log has a ddl record for the ALTER"
else
    fail "no ddl record for 'ALTER TABLE t1 ADD COLUMN' in /var/lib/ddlproxy/ddl.jsonl"
    record='{}'
fi
check_record() {
    local what="$1" expr="$2" got
    got="$(printf '%s' "$record" | json_get "$expr" 2> /dev/null)"
    if [ "$got" = True ]; then
        pass "ddl record: $what"
    else
        fail "ddl record: $what (record: $(printf '%s' "$record" | head -c 600))"
    fi
}
check_record 'kind "add column", db "test", table "t1"' \
    'j.get("kind") == "add column" and j.get("db") == "test" and j.get("table") == "t1"'
check_record 'flavor "mysql", result "ok", no error' \
    'j.get("flavor") == "mysql" and j.get("result") == "ok" and j.get("error") is None'
check_record "faults lists the partition $FAULT_ID on leader:etcd" \
    'any(f.get("id") == "'"$FAULT_ID"'" and f.get("action") == "partition" and f.get("target") == "leader:etcd" for f in j.get("faults", []))'
# The metadata-lock wait is this flavor's queueing: it lasted seconds.
check_record "latency_ms.queueing covers the metadata-lock wait (> 1000 ms)" \
    '(j.get("latency_ms") or {}).get("queueing", 0) > 1000 and j["latency_ms"]["total"] >= j["latency_ms"]["queueing"]'

# ---- heal ---------------------------------------------------------------------
removed="$(ctl fault del "$FAULT_ID" 2> /dev/null | json_get 'j["ok"]' 2> /dev/null)"
if [ "$removed" = True ]; then
    pass "'ddlproxyctl fault del $FAULT_ID' heals the partition"
else
    fail "'ddlproxyctl fault del $FAULT_ID' failed"
fi

# After healing, all three members agree on one leader and the old leader
# answers a quorum read again.
healed=0
deadline=$((SECONDS + 45))
while [ $SECONDS -lt $deadline ]; do
    leaders=()
    for m in etcd1 etcd2 etcd3; do
        read -r _ leader <<< "$(etcd_status "$m")"
        leaders+=("${leader:-none}")
    done
    if [ "${leaders[0]}" = "${leaders[1]}" ] && [ "${leaders[1]}" = "${leaders[2]}" ] \
        && [ "${leaders[0]}" != none ] && [ "${leaders[0]}" != 0 ] \
        && in_c "$OLD_LEADER" etcdctl --endpoints=http://127.0.0.1:2379 --command-timeout=2s \
            endpoint health > /dev/null 2>&1; then
        healed=1
        break
    fi
    sleep 1
done
if [ "$healed" = 1 ]; then
    pass "after healing, $OLD_LEADER rejoined and all members agree on one leader"
else
    fail "after healing, the members do not agree on a leader within 45 s (${leaders[*]})"
fi

summary
[ "$FAILED" -eq 0 ]
