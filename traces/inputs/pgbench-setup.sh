#!/bin/sh
# Prepares a PostgreSQL cluster with a pgbench database (scale 1) in $1; not recorded.
# Needs the postgresql package (apt-get install -y postgresql) and root (it runs the server as postgres).
set -eu
DIR=$1
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$DIR"
chown postgres "$DIR"
su postgres -s /bin/sh -c "$BIN/initdb -D $DIR/data -A trust -U postgres" > /dev/null
su postgres -s /bin/sh -c "$BIN/pg_ctl -D $DIR/data -o '-c listen_addresses=127.0.0.1 -p 54329 -k $DIR -c shared_buffers=16MB' -w start" > /dev/null
su postgres -s /bin/sh -c "$BIN/pgbench -h 127.0.0.1 -p 54329 -U postgres -i -s 1 postgres" > /dev/null 2>&1
su postgres -s /bin/sh -c "$BIN/pg_ctl -D $DIR/data -w stop" > /dev/null
