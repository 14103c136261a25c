#!/usr/bin/env bash
# Every Nexmark query of bench/nexmark, each in a fresh `faro-bench
# nexmark` process (so its peak RSS is its own), one JSON line per query;
# a query Faro cannot run yet prints its error as a JSON line instead.
#
# Usage: bench/nexmark.sh [EVENTS] [PARALLELISM] [EXTRA FLAGS...]
#   defaults: 10000000 events, parallelism 2;
#   e.g. `bench/nexmark.sh 10000000 2 --checkpoint-ms 1000`
set -uo pipefail
export RUST_BACKTRACE=0
cd "$(dirname "${BASH_SOURCE[0]}")/.."

events=${1:-10000000}
parallelism=${2:-2}
shift $(($# < 2 ? $# : 2))
bench=target/release/faro-bench
[[ -x $bench ]] || cargo build --release -p faro-bench >&2

for q in $(seq 0 23); do
  if ! out=$("$bench" nexmark --query "q$q" --events "$events" --parallelism "$parallelism" "$@" 2>&1); then
    error=$(grep -m 1 '^Error' <<<"$out" || head -n 1 <<<"$out")
    error=$(sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$error")
    out="{\"query\":\"q$q\",\"error\":\"$error\"}"
  fi
  echo "$out"
done
