#!/bin/sh
# mariadb-start.sh - entry point of the docker/local MariaDB container.
#
# The image (ddlproxy-mariadb:bookworm) is plain Debian mariadb-server, with
# none of the official image's setup logic, so this script does the little the
# topology needs: create the data directory on first start, then run mariadbd
# in the foreground, reachable on the compose network, with one account that
# clients (through ddlproxy) and ddlproxy's tracker use.
#
# Environment: MARIADB_USER, MARIADB_PASSWORD (required), MARIADB_DATABASE.
set -eu

: "${MARIADB_USER:?set MARIADB_USER}"
: "${MARIADB_PASSWORD:?set MARIADB_PASSWORD}"
MARIADB_DATABASE="${MARIADB_DATABASE:-}"

datadir=/var/lib/mysql
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld

if [ ! -d "$datadir/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
        --auth-root-authentication-method=socket > /dev/null
fi

# Single quotes would end the SQL string: refuse them rather than mis-quote.
case "$MARIADB_USER$MARIADB_PASSWORD$MARIADB_DATABASE" in
    *"'"* | *'\'* | *'`'*)
        echo "mariadb-start: MARIADB_USER/PASSWORD/DATABASE must not contain quotes or backslashes" >&2
        exit 1 ;;
esac

# --init-file runs at every start: statements must be idempotent.
init=/run/mysqld/init.sql
{
    echo "CREATE USER IF NOT EXISTS '$MARIADB_USER'@'%' IDENTIFIED BY '$MARIADB_PASSWORD';"
    echo "ALTER USER '$MARIADB_USER'@'%' IDENTIFIED BY '$MARIADB_PASSWORD';"
    echo "GRANT ALL PRIVILEGES ON *.* TO '$MARIADB_USER'@'%' WITH GRANT OPTION;"
    if [ -n "$MARIADB_DATABASE" ]; then
        echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
    fi
} > "$init"
chown mysql:mysql "$init"
chmod 0600 "$init"

exec mariadbd --user=mysql --datadir="$datadir" \
    --bind-address=0.0.0.0 --port=3306 --skip-name-resolve \
    --init-file="$init" "$@"
