#!/usr/bin/env bash
# CPU per call, split between the server and the load generator: one closed-loop load run against a
# server already running on 127.0.0.1, with the server's CPU time read from /proc/PID/stat before and
# after and the load generator's from GNU time. On a machine whose cores the two share, calls/s is
# about cores / (server + client CPU per call): this shows which side a workload's time goes to.
#
#   benches/cpu-per-call.sh WORKLOAD PORT SERVER_PID [credit-loadgen flags...]
#   e.g. benches/cpu-per-call.sh get-subject 34366 "$(pgrep -f 'credit-server serve')" --omit-json
#
# Environment: DATASET (fixtures directory, default /tmp/credit-bench/fixtures-1000000), TOKEN_FILE
# (a regulator token, default /tmp/credit-bench/token), SECONDS_PER_RUN (default 8). Prints one JSON
# line on stdout.
set -euo pipefail

workload=$1
port=$2
pid=$3
shift 3
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/credit-target}
bin=$CARGO_TARGET_DIR/release
dataset=${DATASET:-/tmp/credit-bench/fixtures-1000000}
token=$(cat "${TOKEN_FILE:-/tmp/credit-bench/token}")
seconds=${SECONDS_PER_RUN:-8}
tick=$(getconf CLK_TCK)
timing=$(mktemp)
trap 'rm -f "$timing"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

before=$(cpu_ticks "$pid")
# The load generator exits non-zero when some calls failed; its JSON still says how many of each.
result=$(/usr/bin/time -f '%U %S' -o "$timing" "$bin/credit-loadgen" --target "127.0.0.1:$port" \
	--workload "$workload" --duration "$seconds" --warmup 0 --connections 4 --concurrency 64 \
	--dataset "$dataset" --token "$token" --json "$@" 2>/dev/null | tail -n1) || true
after=$(cpu_ticks "$pid")
read -r user system < <(tail -n1 "$timing")
python3 -c '
import json, sys
result, seconds, server_ticks, tick, client_seconds = json.loads(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
calls = result.get("requests") or result["rps"] * seconds
print(json.dumps({
    "workload": result.get("workload"), "rps": round(result["rps"]), "p99_ms": result.get("p99_ms"),
    "server_us_per_call": round(server_ticks / tick * 1e6 / calls, 1),
    "client_us_per_call": round(client_seconds * 1e6 / calls, 1),
    "codes": result.get("codes"),
}, separators=(",", ":")))
' "$result" "$seconds" "$((after - before))" "$tick" "$(awk "BEGIN{print $user + $system}")"
