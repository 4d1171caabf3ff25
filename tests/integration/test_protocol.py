#!/usr/bin/python3
"""test_protocol.py - the binary protocol through ddlproxy, driven by
protocol_client (MariaDB Connector/C): cursors and COM_STMT_FETCH,
SEND_LONG_DATA, STMT_RESET/CLOSE, CHANGE_USER, RESET_CONNECTION, STATISTICS,
SET_OPTION, FIELD_LIST. Afterwards the proxy must still attribute results
correctly (the DDL log has the right outcome for the two closing DDLs) and
must not have logged a protocol error."""
import os
import subprocess

import harness
from harness import check, check_eq, wait_for


def client_binary():
    builddir = os.environ.get("DDLPROXY_BUILDDIR") or os.getcwd()
    path = os.path.join(builddir, "tests", "integration", "protocol_client")
    if not os.access(path, os.X_OK):
        raise harness.Skip("protocol_client not built in %s (run make)" % builddir)
    return path


def setup_module():
    db = harness.MariaDB()
    proxy = harness.Proxy(db)
    return {"db": db, "proxy": proxy}


def run_client(proxy):
    return subprocess.run([client_binary(), proxy.host, str(proxy.port), proxy.user,
                           proxy.password, proxy.db], capture_output=True, text=True, timeout=300)


def test_protocol_tour_through_proxy(db, proxy):
    out = run_client(proxy)
    print(out.stdout, end="")
    check(out.returncode == 0, "protocol_client failed: %s%s" % (out.stdout[-2000:], out.stderr[-2000:]))


def test_results_attributed_after_tour(db, proxy):
    recs = wait_for(lambda: [r for r in proxy.ddl_records("ddl") if "pc_rows ADD COLUMN extra" in r["statement"]]
                    if len([r for r in proxy.ddl_records("ddl") if "pc_rows ADD COLUMN extra" in r["statement"]]) >= 2
                    else None, 10, "two DDL records")
    check_eq([r["result"] for r in recs[-2:]], ["ok", "error"], "results of the two closing DDLs")
    check_eq(recs[-1]["error"]["code"], 1060, "error code of the duplicate column")
    stats = proxy.ctl("stats")["stats"]
    check_eq(stats["sessions"]["protocol_errors"], 0, "protocol errors")
    check("protocol error" not in proxy.log_text(), "the proxy logged a protocol error")


if __name__ == "__main__":
    harness.run_tests(globals())
