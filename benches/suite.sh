#!/usr/bin/env bash
# The benchmark suite (`make bench`): generates SUBJECTS subjects (default 1,000,000, about 3 M records),
# imports them RUNS times into a fresh durable store, builds the search index and measures query latency,
# then starts `credit-server` on that store and `credit-echo-server`, measures the server's cold start,
# runs every load workload RUNS times (closed loop) and the echo workload in the same run, then
# `get-subject` and `check` in an open loop at half their saturation rate, reads the server's peak
# resident memory (VmHWM), and writes the medians into BENCHMARKS.md between the suite's markers.
#
#   benches/suite.sh                     # everything, as `make bench` runs it
#   SUBJECTS=20000 RUNS=1 SECONDS_PER_RUN=3 benches/suite.sh   # a quick rehearsal (BENCHMARKS.md untouched
#                                                              # unless WRITE=1)
#
# Uses CARGO_TARGET_DIR (default ~/.cache/credit-target) and WORK_DIR (default /tmp/credit-bench, reused:
# fixtures are generated once). Everything listens on and targets 127.0.0.1 only; every load run is
# bounded by SECONDS_PER_RUN.
set -euo pipefail

subjects=${SUBJECTS:-1000000}
runs=${RUNS:-3}
seconds=${SECONDS_PER_RUN:-10}
warmup=${WARMUP_SECONDS:-2}
connections=${CONNECTIONS:-4}
concurrency=${CONCURRENCY:-64}
write=${WRITE:-$([ "$subjects" = 1000000 ] && echo 1 || echo 0)}
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/credit-target}
work=${WORK_DIR:-/tmp/credit-bench}
mkdir -p "$work"
results=$work/results.jsonl
: >"$results"
started_at=$(date +%s)
log() { echo "suite: $*" >&2; }
minus() { awk "BEGIN {printf \"%.3f\", $1 - $2}"; }
record() { echo "$1" >>"$results"; }

log "building the release binaries"
# What the build and the timing need on a fresh machine (libclang-dev for RocksDB, GNU time).
make -s -C "$root" bench-deps >&2
(cd "$root" && cargo build --release --workspace --bins >&2)
bin=$CARGO_TARGET_DIR/release

# 1. Data, and the import (benches/import.sh generates the fixtures once and imports kind by kind).
fixtures=$work/fixtures-$subjects
if [ ! -f "$fixtures/manifest.json" ]; then
	log "generating $subjects subjects"
	t0=$(date +%s.%N)
	"$bin/credit-fixtures" --subjects "$subjects" --out "$fixtures" >/dev/null
	record "{\"figure\":\"fixtures\",\"seconds\":$(minus "$(date +%s.%N)" "$t0")}"
fi
record "{\"figure\":\"dataset\",\"manifest\":$(tr -d '\n' <"$fixtures/manifest.json")}"
for run in $(seq "$runs"); do
	log "import, run $run of $runs"
	WORK_DIR=$work bash "$root/benches/import.sh" "$subjects" >"$work/import-$run.jsonl"
	record "{\"figure\":\"import\",\"run\":$run,\"total\":$(grep '"kind":"total"' "$work/import-$run.jsonl"),\"subject\":$(grep '"kind":"subject"' "$work/import-$run.jsonl"),\"one_pass\":$(grep '"kind":"subject_with_index"' "$work/import-$run.jsonl" || echo null)}"
done
store=$work/store

# 1b. Evaluation: full runs over every subject of the imported store, one a day as the server makes them,
# ending today: the first stores every evaluation, the later ones write those that changed (the cube of
# statistics the last one keeps is what the statistics workload reads).
for run in $(seq "$runs"); do
	day=$(date -d "-$((runs - run)) days" +%F)
	log "evaluation run for $day, $run of $runs"
	record "{\"figure\":\"evaluation_run\",\"run\":$run,\"day\":\"$day\",\"result\":$("$bin/credit-server" evaluate run --data-dir "$store" --as-of "$day" 2>/dev/null | tail -n1)}"
done

# 2. Search: a full index build, then labelled queries over it.
# Run RUNS times like the rest: a single build's time moved by a third between runs on this kind of VM.
for run in $(seq "$runs"); do
	log "index build and search latency, run $run of $runs"
	WORK_DIR=$work bash "$root/benches/search.sh" "$subjects" >"$work/search-$run.jsonl"
	record "{\"figure\":\"index_build\",\"run\":$run,\"result\":$(sed -n 1p "$work/search-$run.jsonl")}"
	record "{\"figure\":\"search_latency\",\"run\":$run,\"result\":$(sed -n 2p "$work/search-$run.jsonl")}"
	record "{\"figure\":\"search_independent\",\"run\":$run,\"result\":$(sed -n 3p "$work/search-$run.jsonl")}"
done

# 3. The peer: PostgreSQL 15 + pg_trgm, the same registration file, lookups and searches (benches/postgres.sh).
for run in $(seq "$runs"); do
	log "peer: PostgreSQL, run $run of $runs"
	WORK_DIR=$work SECONDS_PER_RUN=$seconds bash "$root/benches/postgres.sh" "$fixtures" >"$work/postgres-$run.jsonl"
	while read -r line; do record "${line%\}},\"run\":$run}"; done <"$work/postgres-$run.jsonl"
done

# 4. The service on that store: a signing key (reports), a regulator key, limits out of the way.
[ -f "$store/signing.key" ] || "$bin/credit-server" signing init --data-dir "$store" >/dev/null
token=$("$bin/credit-server" keys create --data-dir "$store" --role regulator --dept 市财政局 --label loadgen 2>/dev/null |
	sed -E 's/.*"token":"([^"]+)".*/\1/')
port=$((20000 + RANDOM % 20000))
echo_port=$((port + 1))
config=$work/bench.toml
cat >"$config" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$store"
sweep_interval_seconds = 0
[limits.public]
per_second = 1000000
burst = 1000000
[limits.regulator]
per_second = 1000000
burst = 1000000
TOML

server_pid=
echo_pid=
stop_all() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	[ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
	server_pid=
	echo_pid=
	return 0
}
trap stop_all EXIT

# Starts the server; sets `ready_seconds` to the time from launch until a call through the loopback socket
# succeeded.
ready_seconds=
start_server() {
	local t0
	t0=$(date +%s.%N)
	"$bin/credit-server" serve --config "$config" 2>>"$work/server.log" &
	server_pid=$!
	for _ in $(seq 600); do
		if "$bin/credit-loadgen" --target "127.0.0.1:$port" --workload health --requests 1 --json >/dev/null 2>&1; then
			ready_seconds=$(minus "$(date +%s.%N)" "$t0")
			return 0
		fi
		kill -0 "$server_pid" 2>/dev/null || { echo "the server exited; see $work/server.log" >&2; return 1; }
		sleep 0.02
	done
	echo "the server did not answer within 12 s" >&2
	return 1
}

log "cold starts"
# The first start after the import may catch the index up; the measured starts follow it.
start_server
stop_all
for run in $(seq "$runs"); do
	# Cold: the page cache dropped when we may (root), so the store's files are read from disk again.
	sync
	[ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches
	start_server
	record "{\"figure\":\"cold_start\",\"run\":$run,\"seconds\":$ready_seconds,\"page_cache_dropped\":$([ -w /proc/sys/vm/drop_caches ] && echo true || echo false)}"
	[ "$run" = "$runs" ] || stop_all
done

"$bin/credit-echo-server" --listen "127.0.0.1:$echo_port" >/dev/null &
echo_pid=$!
sleep 0.5

# 5. Load: each workload RUNS times, closed loop, then open loop at half of its saturation.
# load TARGET WORKLOAD IN_FLIGHT [FLAGS…]: one bounded run, its JSON line.
load() {
	local target=$1 workload=$2 in_flight=$3
	shift 3
	"$bin/credit-loadgen" --target "$target" --workload "$workload" --duration "$seconds" --warmup "$warmup" \
		--connections "$connections" --concurrency "$in_flight" --dataset "$fixtures" --token "$token" --json "$@" |
		tail -n1
}
median_rps() {
	grep "\"figure\":\"load\"" "$results" | grep "\"workload\":\"$1\"" | sed -E 's/.*"rps":([0-9.]+).*/\1/' |
		sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
for run in $(seq "$runs"); do
	for workload in echo get-subject search check batch-check report get-evaluation; do
		target=127.0.0.1:$port
		[ "$workload" = echo ] && target=127.0.0.1:$echo_port
		log "load: $workload, run $run of $runs"
		record "{\"figure\":\"load\",\"run\":$run,\"result\":$(load "$target" "$workload" "$concurrency")}"
	done
done
# Statistics: the latency of one call at a time (the target is per call, not a rate).
for run in $(seq "$runs"); do
	log "statistics latency, run $run of $runs"
	record "{\"figure\":\"statistics_latency\",\"run\":$run,\"result\":$(load "127.0.0.1:$port" statistics 1)}"
done
for workload in get-subject check; do
	rate=$(awk "BEGIN {printf \"%d\", $(median_rps "$workload") / 2}")
	for run in $(seq "$runs"); do
		log "half load: $workload at $rate/s, run $run of $runs"
		record "{\"figure\":\"half_load\",\"run\":$run,\"result\":$(load "127.0.0.1:$port" "$workload" 512 --rate "$rate")}"
	done
done
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
record "{\"figure\":\"server_memory\",\"vm_hwm_mib\":$((hwm / 1024)),\"subjects\":$subjects}"
stop_all
record "{\"figure\":\"suite\",\"wall_seconds\":$(($(date +%s) - started_at)),\"runs\":$runs,\"seconds_per_run\":$seconds,\"warmup_seconds\":$warmup,\"connections\":$connections,\"concurrency\":$concurrency}"

log "done in $(($(date +%s) - started_at)) s; results in $results"
if [ "$write" = 1 ]; then
	"$bin/bench-report" "$results" "$root/BENCHMARKS.md" --commit "$(git -C "$root" rev-parse --short HEAD)"
	log "BENCHMARKS.md updated"
else
	"$bin/bench-report" "$results" -
fi
