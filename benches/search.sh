#!/usr/bin/env bash
# Search over the store `benches/import.sh` leaves behind (1,000,000 subjects by default): a full index
# build (`credit-server reindex`, timed, peak RSS), then the latency and recall@5 of labelled queries, top 10,
# one at a time, 5 rounds: first those the fixture generator makes (`credit-fixtures --queries-from`), then
# the independent set written from the same registration file by scripts/search-queries.py (pypinyin,
# opencc; 30 per kind). JSON lines on stdout: the build, the generator's set, the independent set.
#
#   WORK_DIR=/tmp/bench-import benches/search.sh [SUBJECTS]
set -euo pipefail

subjects=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/credit-target}
work=${WORK_DIR:?set WORK_DIR to the directory benches/import.sh used}
store=$work/store
fixtures=$work/fixtures-$subjects
[ -d "$store" ] || { echo "no store in $store: run benches/import.sh first" >&2; exit 2; }

# What the build and the timing need on a fresh machine (libclang-dev for RocksDB, GNU time).
make -s -C "$root" bench-deps >&2
(cd "$root" && cargo build --release --workspace --bins >&2)
bin=$CARGO_TARGET_DIR/release

"$bin/credit-fixtures" --queries-from "$fixtures" --out "$work/queries.tsv"
timing=$(mktemp)
/usr/bin/time -f '%e %M' -o "$timing" "$bin/credit-server" reindex --data-dir "$store" >"$work/reindex.json"
read -r seconds kib <"$timing"
rm -f "$timing"
echo "{\"reindex\":$(cat "$work/reindex.json"),\"wall_seconds\":$seconds,\"peak_rss_mib\":$((kib / 1024))}"
"$bin/search-latency" "$store" "$work/queries.tsv" 5
# The independent set takes about 3 minutes to write (the readings of every name); kept beside the store.
independent=$work/independent-queries.tsv
if [ ! -s "$independent" ] || [ "$fixtures/subjects.csv" -nt "$independent" ] || [ "$root/scripts/search-queries.py" -nt "$independent" ]; then
	python3 "$root/scripts/search-queries.py" "$fixtures/subjects.csv" "$independent" --per-kind 30
fi
"$bin/search-latency" "$store" "$independent" 5 2>"$work/independent-misses.log"
