#!/usr/bin/env bash
# Paired figures for the hardening issue (22): did the new checks cost GetSubject or Search anything?
# The release binaries of a commit before the hardening (OLD_BIN) and of this checkout (NEW_BIN) each get
# their own copy of the same generated data, and are measured turn by turn in one run (this VM's speed
# moves by tens of per cent within minutes): GetSubject and Search under load, with the echo server as
# the ceiling, and the labelled queries one at a time. The new server is measured twice: as configured
# by default (in-flight cap derived from the blocking pool, so excess load is shed) and with the old
# cap of 256, which separates the cost of the checks from the effect of shedding.
#
#   git worktree add /tmp/credit-old 8c8c740 && (cd /tmp/credit-old && cargo build --release --workspace --bins)
#   mkdir -p /tmp/old-bin && cp $CARGO_TARGET_DIR/release/{credit-server,search-latency} /tmp/old-bin/
#   cargo build --release --workspace --bins
#   OLD_BIN=/tmp/old-bin benches/hardening.sh
#
# SUBJECTS (default 200,000), RUNS (3), SECONDS_PER_RUN (10), WORK_DIR (/tmp/credit-hardening), RESULTS
# (benches/results/DATE-hardening.jsonl: every raw figure, one JSON object per line). Loopback only;
# every load run is bounded by SECONDS_PER_RUN.
set -euo pipefail

subjects=${SUBJECTS:-200000}
runs=${RUNS:-3}
seconds=${SECONDS_PER_RUN:-10}
warmup=${WARMUP_SECONDS:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/credit-target}
old=${OLD_BIN:?set OLD_BIN to a directory with the old credit-server and search-latency}
new=${NEW_BIN:-$CARGO_TARGET_DIR/release}
work=${WORK_DIR:-/tmp/credit-hardening}
results=${RESULTS:-$root/benches/results/$(date +%F)-hardening.jsonl}
mkdir -p "$work" "$(dirname "$results")"
: >"$results"
log() { echo "hardening: $*" >&2; }
record() { echo "$1" >>"$results"; }

fixtures=$work/fixtures-$subjects
if [ ! -f "$fixtures/manifest.json" ]; then
	log "generating $subjects subjects"
	"$new/credit-fixtures" --subjects "$subjects" --out "$fixtures" >/dev/null
fi
"$new/credit-fixtures" --queries-from "$fixtures" --out "$work/queries.tsv"
record "{\"figure\":\"dataset\",\"manifest\":$(tr -d '\n' <"$fixtures/manifest.json")}"

bin_of() { if [ "$1" = old ]; then echo "$old"; else echo "$new"; fi; }
store_of() { if [ "$1" = old ]; then echo "$work/store-old"; else echo "$work/store-new"; fi; }

for side in old new; do
	bin=$(bin_of $side)
	store=$(store_of $side)
	if [ ! -f "$store/.imported" ]; then
		log "importing into the $side store"
		rm -rf "$store"
		"$bin/credit-server" import --data-dir "$store" --kind subject "$fixtures/persons.csv" "$fixtures/subjects.csv" >/dev/null
		"$bin/credit-server" import --data-dir "$store" --kind penalty "$fixtures/penalties.csv" "$fixtures/penalties_2016_gb18030.csv" >/dev/null
		"$bin/credit-server" import --data-dir "$store" --kind licence "$fixtures/licences.csv" "$fixtures/licences_health.jsonl" >/dev/null
		"$bin/credit-server" import --data-dir "$store" --kind list "$fixtures/lists.csv" >/dev/null
		"$bin/credit-server" reindex --data-dir "$store" >/dev/null
		touch "$store/.imported"
	fi
	"$bin/credit-server" keys create --data-dir "$store" --role regulator --dept 市财政局 --label bench 2>/dev/null |
		sed -E 's/.*"token":"([^"]+)".*/\1/' >"$work/token-$side"
done

port=$((20000 + RANDOM % 20000))
echo_port=$((port + 1))
server_pid=
echo_pid=
stop_server() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	server_pid=
	return 0
}
stop_all() {
	stop_server
	[ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
	echo_pid=
	return 0
}
trap stop_all EXIT

# start SIDE MAX_CONCURRENCY: the side's server on its store (0: the binary's default cap).
start() {
	local side=$1 cap=$2 config=$work/config-$1.toml
	{
		echo "listen = \"127.0.0.1:$port\""
		echo "data_dir = \"$(store_of "$side")\""
		echo "sweep_interval_seconds = 0"
		[ "$cap" = 0 ] || echo "max_concurrency = $cap"
		printf '[limits.public]\nper_second = 1000000\nburst = 1000000\n'
		printf '[limits.regulator]\nper_second = 1000000\nburst = 1000000\n'
	} >"$config"
	"$(bin_of "$side")/credit-server" serve --config "$config" 2>>"$work/server-$side.log" &
	server_pid=$!
	for _ in $(seq 600); do
		"$new/credit-loadgen" --target "127.0.0.1:$port" --workload health --requests 1 --json >/dev/null 2>&1 && return 0
		kill -0 "$server_pid" 2>/dev/null || { echo "the $side server exited; see $work/server-$side.log" >&2; return 1; }
		sleep 0.05
	done
	echo "the $side server did not answer" >&2
	return 1
}

load() {
	local target=$1 workload=$2 token=$3
	"$new/credit-loadgen" --target "$target" --workload "$workload" --duration "$seconds" --warmup "$warmup" \
		--connections 4 --concurrency 64 --dataset "$fixtures" --token "$token" --json | tail -n1
}

"$new/credit-echo-server" --listen "127.0.0.1:$echo_port" >/dev/null &
echo_pid=$!
sleep 0.5

for run in $(seq "$runs"); do
	for variant in old:0 new:0 ${NEW_CAPS:-new:16}; do
		side=${variant%%:*}
		cap=${variant##*:}
		name=$side
		[ "$side" = new ] && [ "$cap" != 0 ] && name=new-cap-$cap
		log "run $run of $runs: $name"
		start "$side" "$cap"
		token=$(cat "$work/token-$side")
		record "{\"figure\":\"load\",\"side\":\"echo\",\"run\":$run,\"result\":$(load "127.0.0.1:$echo_port" echo "$token")}"
		for workload in get-subject search; do
			record "{\"figure\":\"load\",\"side\":\"$name\",\"run\":$run,\"result\":$(load "127.0.0.1:$port" "$workload" "$token")}"
		done
		stop_server
	done
	for side in old new; do
		log "run $run of $runs: search latency, $side"
		latency=$("$(bin_of $side)/search-latency" "$(store_of $side)" "$work/queries.tsv" 3 2>>"$work/latency-$side.log")
		record "{\"figure\":\"search_latency\",\"side\":\"$side\",\"run\":$run,\"result\":$latency}"
	done
done
stop_all
log "raw results in $results"

# Medians per side: OK calls/s, as a ratio to the echo runs of the same round, and latency percentiles.
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
loads = [r for r in rows if r["figure"] == "load"]
echo = {}
for r in loads:
    if r["side"] == "echo":
        echo.setdefault(r["run"], []).append(r["result"]["rps"])
print("| side | workload | OK calls/s (median) | × echo (median) | p50 ms | p99 ms | shed (UNAVAILABLE) |")
print("|---|---|---|---|---|---|---|")
for side in ["old", "new"] + sorted({r["side"] for r in loads if r["side"].startswith("new-cap-")}):
    for workload in ["get-subject", "search"]:
        runs = [r for r in loads if r["side"] == side and r["result"]["workload"] == workload]
        if not runs:
            continue
        rps = [r["result"]["rps"] for r in runs]
        ratio = [r["result"]["rps"] / statistics.median(echo[r["run"]]) for r in runs]
        p50 = statistics.median(r["result"]["p50_ms"] for r in runs)
        p99 = statistics.median(r["result"]["p99_ms"] for r in runs)
        shed = sum(r["result"]["codes"].get("UNAVAILABLE", 0) for r in runs)
        print(f"| {side} | {workload} | {statistics.median(rps):,.0f} | {statistics.median(ratio):.3f} | {p50:.2f} | {p99:.2f} | {shed} |")
print()
print("| side | search one at a time: p50 ms | p99 ms | max ms | recall@5 |")
print("|---|---|---|---|---|")
for side in ["old", "new"]:
    runs = [r["result"] for r in rows if r["figure"] == "search_latency" and r["side"] == side]
    if runs:
        med = lambda k: statistics.median(x[k] for x in runs)
        print(f"| {side} | {med('p50_ms'):.3f} | {med('p99_ms'):.3f} | {med('max_ms'):.3f} | {med('recall_at_5'):.3f} |")
PY
