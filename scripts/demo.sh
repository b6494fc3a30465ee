#!/usr/bin/env bash
# `make demo`: load the committed demo data into the embedded store (once), show what is in it, then
# serve the gRPC API.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}/debug"
credit="$target/credit"
server="$target/credit-server"
listen="${CREDIT_LISTEN:-127.0.0.1:50051}"
data="${CREDIT_DEMO_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/credit/demo}"
demo=fixtures/demo

if [ ! -f "$data/CURRENT" ]; then
  echo "== loading the demo data into $data" >&2
  "$server" import --data-dir "$data" --kind subject "$demo/persons.csv" "$demo/subjects.csv" >/dev/null
  "$server" import --data-dir "$data" --kind penalty "$demo/penalties.csv" "$demo/penalties_2016_gb18030.csv" >/dev/null
  "$server" import --data-dir "$data" --kind licence "$demo/licences.csv" "$demo/licences_health.jsonl" >/dev/null
  "$server" import --data-dir "$data" --kind list "$demo/lists.csv" >/dev/null
fi

echo "== the store ($data)" >&2
"$server" stats --data-dir "$data" >&2

example=$(sed -n '2p' "$demo/subjects.csv" | cut -d, -f1)
echo "== one subject: credit-server get --data-dir $data $example" >&2
"$server" get --data-dir "$data" "$example" | head -c 600 >&2
echo " …" >&2

cat >&2 <<EOT

== serving credit.v1 on $listen (Ctrl-C to stop). Try, from another shell:
   $credit id check 91110000600037341L 9111000060003IOZSV 110105491231002
   $server get --data-dir $data --history $example
   grpcurl -plaintext $listen list                       # reflection
   grpcurl -plaintext -d '{"values":["91310115MA1K3BTP2B"]}' $listen credit.v1.IdentifierService/CheckIdentifiers

EOT
exec "$server" serve --listen "$listen"
