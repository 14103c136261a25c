#!/usr/bin/env bash
# Runs one fuzz target for a bounded time, one job, under nice, on stable
# Rust (no sanitizer; debug assertions on so integer overflow panics):
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer flags…]
# New inputs go to fuzz/corpus-gen/TARGET (ignored by git); the committed
# seeds in fuzz/corpus/TARGET are read only. Crashes land in
# fuzz/artifacts/TARGET/, the log in fuzz/logs/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")"
target=$1; seconds=$2; shift 2
mkdir -p "corpus-gen/$target" "corpus/$target" logs
dict=()
case $target in
  expression) dict=(-dict=dict/expression.dict) ;;
  job_spec|shuffle_request|control) dict=(-dict=dict/json.dict) ;;
esac
exec nice -n 15 cargo fuzz run --sanitizer none --debug-assertions "$target" \
  "corpus-gen/$target" "corpus/$target" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  "${dict[@]}" "$@" 2>&1 | tee "logs/$target.log"
