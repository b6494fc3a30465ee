#!/usr/bin/env bash
# `make demo`: check the committed demo data with the platform's codecs, then serve the gRPC API.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}/debug"
credit="$target/credit"
server="$target/credit-server"
listen="${CREDIT_LISTEN:-127.0.0.1:50051}"

echo "== demo data (fixtures/demo)" >&2
grep -E '^  "(subjects|records)"' fixtures/demo/manifest.json | tr -d '",' | sed 's/^ */   /' >&2

echo "== every identifier in the demo data, through 'credit id check -'" >&2
{
  tail -n +2 fixtures/demo/subjects.csv | cut -d, -f1
  tail -n +2 fixtures/demo/persons.csv | cut -d, -f3
} | "$credit" id check - > /tmp/credit-demo-idcheck.jsonl || true
total=$(wc -l < /tmp/credit-demo-idcheck.jsonl)
valid=$(grep -c '"valid":true' /tmp/credit-demo-idcheck.jsonl || true)
echo "   $valid of $total identifiers valid (full report: /tmp/credit-demo-idcheck.jsonl)" >&2

cat >&2 <<EOT

== serving credit.v1 on $listen (Ctrl-C to stop). Try, from another shell:
   $credit id check 91110000600037341L 9111000060003IOZSV 110105491231002
   echo 92340602MA2PBMEM24 | $credit id check -
   grpcurl -plaintext $listen list                       # reflection
   grpcurl -plaintext -d '{"values":["91310115MA1K3BTP2B"]}' $listen credit.v1.IdentifierService/CheckIdentifiers

EOT
exec "$server" serve --listen "$listen"
