#!/usr/bin/env bash
# Import throughput into the durable store: generated fixtures of N subjects (default 1,000,000, about
# 3 M records), imported kind by kind into a fresh RocksDB store with the release build. Prints, per
# kind and in total, rows, seconds, rows/s and peak RSS (from /usr/bin/time), as JSON lines on stdout.
# Last, the registration file once more into another fresh store with `--index`, which builds the search
# index in the same pass (`"kind":"subject_with_index"`): the load figure compared with PostgreSQL's.
#
#   benches/import.sh [SUBJECTS]            # e.g. benches/import.sh 1000000
#
# Uses CARGO_TARGET_DIR (default ~/.cache/credit-target, shared with CI) and WORK_DIR (default a temp dir).
set -euo pipefail

subjects=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/credit-target}
work=${WORK_DIR:-$(mktemp -d)}
time_bin=/usr/bin/time

# What the build and the timing need on a fresh machine (libclang-dev for RocksDB, GNU time).
make -s -C "$root" bench-deps >&2
(cd "$root" && cargo build --release --workspace --bins >&2)
bin=$CARGO_TARGET_DIR/release

fixtures=$work/fixtures-$subjects
if [ ! -f "$fixtures/manifest.json" ]; then
	echo "generating $subjects subjects into $fixtures" >&2
	"$bin/credit-fixtures" --subjects "$subjects" --out "$fixtures" >/dev/null
fi
store=$work/store
rm -rf "$store"

total_rows=0
total_seconds=0
peak_kib=0
run() {
	local kind=$1 label=$1 extra=()
	shift
	if [ "$kind" = subject_with_index ]; then
		kind=subject
		extra=(--index)
	fi
	local files=()
	for f in "$@"; do files+=("$fixtures/$f"); done
	local timing
	timing=$(mktemp)
	"$time_bin" -f '%e %M' -o "$timing" \
		"$bin/credit-server" import --data-dir "$store" --kind "$kind" "${extra[@]}" "${files[@]}" >"$work/summary-$label.json" 2>/dev/null
	read -r seconds kib <"$timing"
	rm -f "$timing"
	local rows
	rows=$(tail -n1 "$work/summary-$label.json" | sed -E 's/.*"rows":([0-9]+).*/\1/')
	echo "{\"kind\":\"$label\",\"rows\":$rows,\"seconds\":$seconds,\"rows_per_second\":$(awk "BEGIN{printf \"%d\", $rows/$seconds}"),\"peak_rss_mib\":$((kib / 1024))}"
	total_rows=$((total_rows + rows))
	total_seconds=$(awk "BEGIN{print $total_seconds + $seconds}")
	[ "$kib" -gt "$peak_kib" ] && peak_kib=$kib
	return 0
}

run subject persons.csv subjects.csv
run penalty penalties.csv penalties_2016_gb18030.csv
run licence licences.csv licences_health.jsonl
run list lists.csv
echo "{\"kind\":\"total\",\"rows\":$total_rows,\"seconds\":$total_seconds,\"rows_per_second\":$(awk "BEGIN{printf \"%d\", $total_rows/$total_seconds}"),\"peak_rss_mib\":$((peak_kib / 1024))}"
"$bin/credit-server" stats --data-dir "$store" >&2

# The registration file and its search index in one pass, into a fresh store of its own.
main_store=$store
store=$work/store-one-pass
rm -rf "$store"
run subject_with_index persons.csv subjects.csv
rm -rf "$store"
store=$main_store
