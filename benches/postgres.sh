#!/usr/bin/env bash
# The peer: PostgreSQL 15 with pg_trgm, loaded with the same generated subjects as the suite, measured in
# the same run. Loaded as a careful team would: in one transaction that creates the table and COPYs the
# registration file into it (no WAL needed for it, durable at commit), then a btree on the unified code,
# a btree on the legal representative's ID number and a trigram GIN on the name. Then `pgbench` (4
# clients, prepared statements, Unix socket):
#   - `lookup`: one subject by unified code. pgbench can only draw numbers, so each transaction first
#     finds a random row's code by its row number and then looks the subject up by that code: two
#     index lookups per transaction;
#   - `point`: one subject by row number, a single btree lookup: an upper bound for a lookup by code,
#     and the figure our lookups are compared with (the harder comparison for us);
#   - `search`: one client, the names containing a 3-character fragment of a random name (LIKE over the
#     trigram index), 10 at most: per-query latency from pgbench's transaction log.
#
#   benches/postgres.sh FIXTURES_DIR        # JSON lines on stdout: pg_load, pg_lookup, pg_point, pg_search
#
# The cluster is private to this run: created in WORK_DIR/pg, listening on a Unix socket in WORK_DIR only
# (no TCP), stopped and removed at the end. As root, the server runs as the `postgres` user. Each pgbench
# run is bounded by SECONDS_PER_RUN.
set -euo pipefail

fixtures=${1:?usage: benches/postgres.sh FIXTURES_DIR}
work=${WORK_DIR:-/tmp/credit-bench}
seconds=${SECONDS_PER_RUN:-10}
clients=${PG_CLIENTS:-4}
pgbin=${PG_BIN:-/usr/lib/postgresql/15/bin}
data=$work/pg
socket=$work/pg-socket
logs=$work/pg-logs
log() { echo "postgres: $*" >&2; }
minus() { awk "BEGIN {printf \"%.3f\", $1 - $2}"; }

[ -x "$pgbin/initdb" ] || { echo "no PostgreSQL 15 in $pgbin: run make bench-deps" >&2; exit 1; }
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
stop() {
	as_pg "$pgbin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
	rm -rf "$data" "$socket"
}
trap stop EXIT

stop
mkdir -p "$data" "$socket" "$logs"
rm -f "$logs"/*
[ "$(id -u)" = 0 ] && chown postgres "$data" "$socket" "$logs"
as_pg "$pgbin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# Durable (fsync, synchronous commit) like our store; memory as a tuned server on 24 GiB would have it.
as_pg "$pgbin/pg_ctl" -D "$data" -l "$logs/server.log" -w start -o "-c listen_addresses='' \
	-c unix_socket_directories=$socket -c shared_buffers=2GB -c maintenance_work_mem=1GB \
	-c max_wal_size=8GB -c wal_level=minimal -c max_wal_senders=0 -c max_parallel_maintenance_workers=2" >/dev/null
psql() { as_pg "$pgbin/psql" -h "$socket" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -c "CREATE EXTENSION pg_trgm"

# The registration file's columns, all text, as the file has them; plus a row number for pgbench.
file=$fixtures/subjects.csv
header=$(head -n1 "$file" | tr -d '\r')
columns=$(echo "$header" | tr 'A-Z' 'a-z')
definitions=$(echo "$columns" | sed -E 's/([a-z0-9_]+)/\1 text/g')
rows=$(($(wc -l <"$file") - 1))

log "loading $rows rows"
t0=$(date +%s.%N)
{
	echo "BEGIN;"
	echo "CREATE TABLE subjects (n bigint GENERATED ALWAYS AS IDENTITY, $definitions);"
	echo "COPY subjects ($columns) FROM STDIN WITH (FORMAT csv, HEADER true);"
	cat "$file"
	echo "\\."
	echo "COMMIT;"
} | psql
t1=$(date +%s.%N)
psql -c "CREATE UNIQUE INDEX subjects_n ON subjects (n)"
psql -c "CREATE INDEX subjects_code ON subjects (tyshxydm)"
psql -c "CREATE INDEX subjects_legal_rep ON subjects (fddbrzjhm)"
t2=$(date +%s.%N)
psql -c "CREATE INDEX subjects_name_trgm ON subjects USING gin (jgmc gin_trgm_ops)"
t3=$(date +%s.%N)
psql -c "VACUUM ANALYZE subjects"
total=$(minus "$t3" "$t0")
echo "{\"figure\":\"pg_load\",\"rows\":$rows,\"copy_seconds\":$(minus "$t1" "$t0"),\"btree_seconds\":$(minus "$t2" "$t1"),\"gin_seconds\":$(minus "$t3" "$t2"),\"seconds\":$total,\"rows_per_second\":$(awk "BEGIN {printf \"%d\", $rows / $total}"),\"table_mib\":$(psql -c "SELECT pg_total_relation_size('subjects') / 1048576")}"

cat >"$logs/lookup.sql" <<'SQL'
\set n random(1, :rows)
SELECT * FROM subjects WHERE tyshxydm = (SELECT tyshxydm FROM subjects WHERE n = :n);
SQL
cat >"$logs/point.sql" <<'SQL'
\set n random(1, :rows)
SELECT * FROM subjects WHERE n = :n;
SQL
cat >"$logs/search.sql" <<'SQL'
\set n random(1, :rows)
SELECT jgmc FROM subjects WHERE jgmc LIKE '%' || (SELECT substr(jgmc, 4, 3) FROM subjects WHERE n = :n) || '%' LIMIT 10;
SQL
[ "$(id -u)" = 0 ] && chown postgres "$logs"/*.sql

# pgbench NAME CLIENTS: one bounded run; prints its JSON line (transactions/s and latency percentiles
# from the per-transaction log, in ms).
pgbench() {
	local name=$1 clients=$2 out
	out=$(cd "$logs" && as_pg "$pgbin/pgbench" -h "$socket" -U postgres -n -M prepared -c "$clients" \
		-j "$clients" -T "$seconds" -D rows="$rows" -f "$logs/$name.sql" -l --log-prefix="$logs/$name" postgres 2>&1)
	local tps
	tps=$(echo "$out" | sed -nE 's/^tps = ([0-9.]+) .*without initial connection time.*/\1/p')
	# The log's third column is each transaction's latency in microseconds.
	local percentiles
	percentiles=$(cat "$logs/$name".* | awk '{print $3}' | sort -n | awk '
		{ v[NR] = $1 }
		END { printf "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"transactions\":%d",
			v[int(NR * 0.50) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000, v[NR] / 1000, NR }')
	rm -f "$logs/$name".*[0-9]
	echo "{\"figure\":\"pg_$name\",\"clients\":$clients,\"seconds\":$seconds,\"tps\":${tps:-0},$percentiles}"
}
log "pgbench lookups ($clients clients) and searches (1 client), $seconds s each"
pgbench lookup "$clients"
pgbench point "$clients"
pgbench search 1
