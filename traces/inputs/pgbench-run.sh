#!/bin/sh
# The recorded part: start the server of pgbench-setup.sh on loopback, run pgbench (2 clients,
# 200 transactions each, TPC-B-like), stop the server. Every process is traced.
set -eu
DIR=$1
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
su postgres -s /bin/sh -c "$BIN/pg_ctl -D $DIR/data -o '-c listen_addresses=127.0.0.1 -p 54329 -k $DIR -c shared_buffers=16MB' -w start" > /dev/null
su postgres -s /bin/sh -c "$BIN/pgbench -h 127.0.0.1 -p 54329 -U postgres -c 2 -t 200 postgres" | grep -E '^(tps|number of transactions actually)'
su postgres -s /bin/sh -c "$BIN/pg_ctl -D $DIR/data -w stop" > /dev/null
