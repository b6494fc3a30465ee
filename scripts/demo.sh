#!/usr/bin/env bash
# `make demo`: serve the gRPC API over the demo data. `serve --demo` creates the data directory, loads the
# compiled-in demo fixtures into it when it is empty, and writes a regulator token to DIR/demo-token.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}/debug"
server="$target/credit-server"
listen="${CREDIT_LISTEN:-127.0.0.1:50051}"
data="${CREDIT_DEMO_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/credit/demo}"

cat >&2 <<EOT
== serving credit.v1 on $listen over $data (Ctrl-C to stop). Try, from another shell:
   grpcurl -plaintext $listen list                                   # reflection
   grpcurl -plaintext -d '{"identifier":"91140302749578410B"}' $listen credit.v1.SubjectService/GetSubject
   grpcurl -plaintext -d '{"query":"隆合餐饮"}' $listen credit.v1.SearchService/Search
   grpcurl -plaintext -H "authorization: Bearer \$(cat $data/demo-token)" \\
     -d '{"identifier":"91140302749578410B","item":"GOV_PROCUREMENT"}' $listen credit.v1.JointCheckService/Check
   $target/credit report --endpoint $listen get 91140302749578410B --out /tmp/report.json
   $target/credit report --endpoint $listen verify /tmp/report.json  # a signed report, verified
   $server keys create --data-dir $data --role provider --dept 市场监管局

EOT
exec "$server" serve --demo --data-dir "$data" --listen "$listen"
