#!/usr/bin/python3
"""demo.py - ddlproxy in one screen.

MariaDB and a 3-member etcd cluster run behind ddlproxy on loopback. An
ALTER TABLE ... ADD INDEX is held by a metadata lock while the etcd leader is
partitioned through the admin socket; the demo prints what ddlproxy saw: the
DDL live in 'ddl list' (queueing, then flagged stuck), the etcd leader change,
and the DDL's latency record with the fault it overlapped.

Run through tests/demo.sh (it installs and builds first).
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
import harness                          # noqa: E402
from etcd_cluster import EtcdCluster    # noqa: E402

HOLD_S = 6          # how long the metadata lock is held
STUCK_MS = 2000     # flag the DDL as stuck after this long in one state


def say(text=""):
    print(text, flush=True)


def banner(text):
    say("\n\033[1m== %s\033[0m" % text)


def main():
    names = ("etcd1", "etcd2", "etcd3")
    # Each member advertises the proxy's listeners (own loopback address per member).
    ports = {n: (harness.free_port(), harness.free_port()) for n in names}
    proxy_ip = {n: "127.0.0.%d" % (11 + i) for i, n in enumerate(names)}
    advertise = {n: {"client": "http://%s:%d" % (proxy_ip[n], ports[n][0]),
                     "peer": "http://%s:%d" % (proxy_ip[n], ports[n][1])} for n in names}

    with harness.MariaDB() as db, EtcdCluster(advertise=advertise) as etcd:
        config = {"tracker": {"stuck_after_ms": str(STUCK_MS), "poll_interval_ms": "100"},
                  "group etcd": {"leader": "etcd"}}
        for n in names:
            m = etcd.members[n]
            for role, port, upstream in (("client", ports[n][0], m.listen_client),
                                         ("peer", ports[n][1], m.listen_peer)):
                config["endpoint %s-%s" % (n, role)] = {
                    "group": "etcd", "member": n, "role": role,
                    "listen": "%s:%d" % (proxy_ip[n], port),
                    "upstream": upstream.replace("http://", ""),
                    # members on one host all dial from 127.0.0.1: see README "partition on one host"
                    "address": proxy_ip[n]}
        with harness.Proxy(db, config=config) as proxy:
            banner("ddlproxy in front of MariaDB %s and etcd members %s" % (db.addr, ", ".join(names)))
            etcd.start()                 # the cluster forms through the proxy's peer relays
            say(proxy.ctl_text("endpoint", "list").stdout)
            harness.wait_for(lambda: proxy.ctl("leader", "etcd")["leader"].get("leader"), 15,
                             "etcd leader known to ddlproxy")
            old_leader = proxy.ctl("leader", "etcd")["leader"]["leader"]
            say("etcd leader (ddlproxy's discovery): %s" % old_leader)

            setup = proxy.connect()
            cur = setup.cursor()
            cur.execute("CREATE TABLE IF NOT EXISTS orders (id INT PRIMARY KEY, customer INT, note TEXT)")
            cur.executemany("INSERT INTO orders VALUES (%s, %s, 'x')", [(i, i % 97) for i in range(1, 2001)])

            banner("a transaction holds a metadata lock on orders for %d s" % HOLD_S)
            holder = db.connect()
            hcur = holder.cursor()
            hcur.execute("BEGIN")
            hcur.execute("SELECT COUNT(*) FROM orders")

            banner("fault: partition the etcd leader (%s) for 8 s" % old_leader)
            say(proxy.ctl_text("fault", "add", "leader:etcd", "partition", "duration=8s",
                               "name=cut-leader").stdout)

            result = {}

            def run_alter():
                c = proxy.connect()
                t0 = time.time()
                try:
                    c.cursor().execute("ALTER TABLE orders ADD INDEX idx_customer (customer)")
                    result["ok"] = time.time() - t0
                except Exception as e:          # shown, not hidden
                    result["error"] = str(e)
                finally:
                    c.close()

            banner("ALTER TABLE orders ADD INDEX idx_customer (customer) through ddlproxy")
            alter = threading.Thread(target=run_alter)
            alter.start()
            time.sleep(1.0)
            say(proxy.ctl_text("ddl", "list", "active").stdout)
            time.sleep(STUCK_MS / 1000.0 + 0.5)
            say("after %d ms in one state the DDL is flagged stuck:" % STUCK_MS)
            say(proxy.ctl_text("ddl", "list", "active").stdout)

            new_leader = harness.wait_for(
                lambda: (lambda l: l if l and l != old_leader else None)(etcd.leader(exclude=(old_leader,))),
                15, "a new etcd leader")
            banner("etcd elected a new leader: %s -> %s (asked directly at the members)" % (old_leader, new_leader))

            time.sleep(max(0, HOLD_S - 4.0))
            hcur.execute("COMMIT")
            holder.close()
            alter.join(60)
            say("client saw: %s" % (("OK after %.3f s" % result["ok"]) if "ok" in result else result))

            harness.wait_for(lambda: [r for r in proxy.ddl_records("ddl") if "idx_customer" in r["statement"]],
                             10, "the DDL's latency record")
            banner("the latency log (%s): stuck records, then the DDL record" % proxy.ddl_log)
            for rec in proxy.ddl_records():
                if rec.get("type") == "stuck" or "idx_customer" in rec.get("statement", ""):
                    say(json.dumps(rec, indent=2))

            banner("main log: faults and leader changes")
            for line in proxy.log_text().splitlines():
                if "fault cut-leader" in line or "leader of etcd" in line or "ddl " in line and "idx_customer" in line:
                    say(line)
            proxy.ctl("fault", "clear")
    say("\ndemo finished: everything it started is stopped.")


if __name__ == "__main__":
    main()
