#!/usr/bin/env bash
# Time from kill -9 of a worker to a checkpointed streaming job processing
# again, with the default settings (the failure detector and its probe,
# restart from the newest complete checkpoint).
#
# Starts a scheduler and three workers (2 slots each) on loopback, runs
# bench/streaming/recovery.yaml (a Nexmark source paced to the wall clock
# -> 1 s tumbling count per auction -> files, checkpointed every second),
# waits for three complete checkpoints, kills -9 the worker running the
# window and polls the job every 20 ms until a new attempt of the window
# has taken rows in. Prints each phase: detection (the job records the
# lost worker), redeployment (new attempts running) and processing again
# (a new attempt's watermark advances past where it restored to).
#
# Also prints how many tasks restarted and the rows the job reports
# possibly lost (approximate failover restarts only the lost worker's).
#
# Usage: [SPEC=FILE] bench/recovery.sh [RUNS] [FARO_BINARY] [SCHEDULER FLAGS...]
#   defaults: 3 runs, target/release/faro, no flags (the defaults),
#   SPEC=bench/streaming/recovery.yaml;
#   e.g. `bench/recovery.sh 3 target/release/faro --heartbeat-pause-ms 1000`,
#   `SPEC=bench/streaming/recovery_approximate.yaml bench/recovery.sh 3`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${1:-3}
faro=$(realpath "${2:-target/release/faro}")
shift $(($# < 2 ? $# : 2))
flags=("$@")
spec=$(realpath "${SPEC:-bench/streaming/recovery.yaml}")
work=$(mktemp -d -t faro-recovery.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n ${KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
# first_line FILE: waits for a process's first line of output.
first_line() {
  for _ in $(seq 1 200); do
    [[ -s $1 ]] && { head -n 1 "$1"; return; }
    sleep 0.05
  done
  echo "no output in $1:" >&2
  cat "${1%.out}.log" >&2
  exit 1
}

"$faro" identity --out "$work/id" >/dev/null
tls=(--cert "$work/id/node.pem" --key "$work/id/node.key" --ca "$work/id/ca.pem")
"$faro" scheduler --listen 127.0.0.1:0 --data-dir "$work/scheduler" "${tls[@]}" \
  --secret-file "$work/id/cluster-secret" --token-file "$work/id/api-token" --loopback "${flags[@]}" \
  >"$work/scheduler.out" 2>"$work/scheduler.log" &
pids+=($!)
line=$(first_line "$work/scheduler.out")
url=$(grep -o 'http://[0-9.:]*' <<<"$line" | head -n 1)
control=$(awk '{print $NF}' <<<"$line")
start_worker() {
  "$faro" worker --loopback --scheduler "$control" --slots 2 --listen 127.0.0.1:0 "${tls[@]}" \
    --allow-write "$work" \
    >"$work/worker-$1.out" 2>"$work/worker-$1.log" &
  pids+=($!)
  worker_pid[$1]=$!
  first_line "$work/worker-$1.out" >/dev/null
}
declare -A worker_pid
for w in 0 1 2; do start_worker "$w"; done
echo "cluster: scheduler $url, 3 workers"

export FARO_TOKEN
FARO_TOKEN=$(cat "$work/id/api-token")
auth=(-H "Authorization: Bearer $FARO_TOKEN")
job() { curl -sf "${auth[@]}" "$url/v1/jobs/$1"; }
completed() { curl -sf "${auth[@]}" "$url/v1/jobs/$1/checkpoints" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["completed"]))'; }

for run in $(seq 1 "$runs"); do
  out="$work/out-$run"
  mkdir -p "$out"
  sed "s#OUT#$out#" "$spec" >"$work/spec-$run.yaml"
  id=$("$faro" submit "$work/spec-$run.yaml" --scheduler "$url")
  until [[ $(completed "$id") -ge 3 ]]; do sleep 0.1; done
  victim_addr=$(job "$id" | python3 -c '
import json, sys
job = json.load(sys.stdin)
for t in job["tasks"]:
    if t["vertex"].startswith("counts"):
        for a in t["attempts"]:
            if a["state"] == "running":
                print(a["worker"]); sys.exit()')
  victim=""
  for w in "${!worker_pid[@]}"; do
    grep -q "$victim_addr" "$work/worker-$w.out" && victim=$w
  done
  [[ -n $victim ]] || { echo "no worker runs the window" >&2; exit 1; }
  killed=$(now_ms)
  kill -9 "${worker_pid[$victim]}"
  detected="" deployed="" processing="" first=""
  while [[ -z $processing ]]; do
    status=$(job "$id")
    t=$(now_ms)
    read -r phase mark < <(python3 -c '
import json, sys
job, first = json.loads(sys.argv[1]), sys.argv[2]
lost = job["reruns"]["lost_workers"] > 0
marks = [a.get("watermark_ms") for t in job["tasks"] if t["vertex"].startswith("counts")
         for a in t["attempts"] if a["attempt"] > 0 and a["state"] == "running"]
marks = [m for m in marks if m is not None]
if marks and first and min(marks) > int(first):
    print("processing", min(marks))
elif marks:
    print("deployed", min(marks))
else:
    print("detected" if lost else "waiting", "-")' "$status" "$first")
    case $phase in
      detected) detected=${detected:-$t} ;;
      deployed) detected=${detected:-$t}; deployed=${deployed:-$t}; first=${first:-$mark} ;;
      processing) detected=${detected:-$t}; deployed=${deployed:-$t}; processing=$t ;;
    esac
    sleep 0.02
  done
  restarted=$(job "$id" | python3 -c '
import json, sys
job = json.load(sys.stdin)
tasks = job["tasks"]
again = sum(1 for t in tasks if len(t["attempts"]) > 1)
lost = job["reruns"]["records_possibly_lost"]
print(f"{again} of {len(tasks)} tasks restarted, {lost} rows possibly lost")')
  echo "run $run: lost worker recorded after $((detected - killed)) ms," \
    "window redeployed after $((deployed - killed)) ms, processing again after $((processing - killed)) ms;" \
    "$restarted"
  curl -sf "${auth[@]}" -X POST "$url/v1/jobs/$id/cancel" >/dev/null
  start_worker "$victim"
  unset "worker_pid[$victim]" 2>/dev/null || true
  worker_pid[$victim]=${pids[-1]}
done
