#!/usr/bin/env bash
# Starts one real shuffle node on loopback, runs `faro-bench shuffle` against
# it for each MAPSxREDUCES given, in both modes, and stops the node.
#   bench/shuffle.sh [BYTES] [MAPSxREDUCES ...]     e.g. bench/shuffle.sh 2GiB 8x8 64x64
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=${1:-2GiB}; shift || true
shapes=${*:-8x8 64x64}
cargo build --release -q -p faro -p faro-bench
work=$(mktemp -d)
trap 'kill "$node" 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/faro-bench identity --dir "$work"
target/release/faro shuffle-service --listen 127.0.0.1:0 --loopback --data-dir "$work/data" \
  --cert "$work/cert.pem" --key "$work/key.pem" --ca "$work/ca.pem" --secret-file "$work/secret" ${FARO_NODE_ARGS:-} \
  >"$work/node.out" 2>"$work/node.err" &
node=$!
for _ in $(seq 50); do grep -q listening "$work/node.out" 2>/dev/null && break; sleep 0.1; done
addr=$(awk '/listening/{print $NF}' "$work/node.out")
for shape in $shapes; do
  for mode in "" "--concurrent"; do
    target/release/faro-bench shuffle --nodes "$addr" --maps "${shape%x*}" --reduces "${shape#*x}" --bytes "$bytes" \
      --cert "$work/cert.pem" --key "$work/key.pem" --ca "$work/ca.pem" --secret-file "$work/secret" $mode
  done
done
