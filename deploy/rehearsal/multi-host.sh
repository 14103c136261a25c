#!/usr/bin/env bash
# A multi-host rehearsal on one machine: every Faro process on a host of
# its own (a network namespace with its own address), the hosts joined by
# a switch (a bridge in a namespace of its own, so the machine's own
# network is never touched):
#
#   10.77.0.10  shuffle-0   faro shuffle-service      ┐
#   10.77.0.11  shuffle-1   faro shuffle-service      │ replicas = 2
#   10.77.0.5   scheduler   faro scheduler            ├─ switch (bridge)
#   10.77.0.21  worker-0    faro worker --slots 2     │
#   10.77.0.22  worker-1    faro worker --slots 2     ┘
#
# The shuffle hosts' links are limited to 100 Mbit/s (tbf), so a job's
# shuffle takes seconds, as it would between real machines.
#
# It runs examples/shuffle_agg.json twice: once as is, then cutting the
# link of the shuffle host the reduce stage is reading from. Both runs
# must print exactly what `faro run` prints for the job on one machine,
# and the second must not have re-run the map stage: the reducers' fetches
# stall, move to the surviving replica on the other host and resume where
# they stopped, so no task runs again. (Which host serves a reducer
# first depends on where the job's partitions hash, so the script looks
# at the links' traffic rather than assuming one.)
#
# Needs root (ip netns, veth, tc). Where namespaces are not permitted it
# says so and exits 77 (the "skipped" status of automake and meson).
#
# Usage: deploy/rehearsal/multi-host.sh [FARO_BINARY]
#   default binary: target/release/faro
#   FARO_REHEARSAL_LOGS=DIR keeps every process's log there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

faro=$(realpath "${1:-target/release/faro}")
job=examples/shuffle_agg.json
net=faro-rh$$ # unique per run: rehearsals may overlap
hosts=(shuffle-0 shuffle-1 scheduler worker-0 worker-1)
declare -A address=(
  [shuffle-0]=10.77.0.10 [shuffle-1]=10.77.0.11 [scheduler]=10.77.0.5
  [worker-0]=10.77.0.21 [worker-1]=10.77.0.22
)
state=$(mktemp -d -t faro-rehearsal.XXXXXX)
pids=()

say() { echo "rehearsal: $*"; }
fail() {
  echo "rehearsal: FAILED: $*" >&2
  for log in "$state"/*.log; do
    [[ -e $log ]] || continue
    echo "--- $(basename "$log") (last lines)" >&2
    tail -n 15 "$log" >&2
  done
  exit 1
}
ns() { echo "$net-$1"; }
on() { # on HOST COMMAND...: runs COMMAND on HOST
  local host=$1
  shift
  ip netns exec "$(ns "$host")" "$@"
}

teardown() {
  for pid in "${pids[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for host in "${hosts[@]}"; do
    # Whatever still runs on the host goes with it.
    ip netns pids "$(ns "$host")" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$(ns "$host")" 2>/dev/null || true
  done
  ip netns del "$net" 2>/dev/null || true
  if [[ -n ${FARO_REHEARSAL_LOGS:-} ]]; then
    mkdir -p "$FARO_REHEARSAL_LOGS" && cp "$state"/*.log "$FARO_REHEARSAL_LOGS"/ 2>/dev/null || true
  fi
  rm -rf "$state"
}
trap teardown EXIT

[[ -x $faro ]] || fail "no faro binary at $faro (build it: cargo build --release)"
if ! ip netns add "$net" 2>"$state/netns.err"; then
  echo "rehearsal: SKIPPED: network namespaces are not permitted here:" \
    "$(cat "$state/netns.err")" >&2
  exit 77
fi

# The switch, then one host per process, each linked to it by a veth pair.
ip -n "$net" link add switch type bridge
ip -n "$net" link set switch up
ip -n "$net" link set lo up
for host in "${hosts[@]}"; do
  ip netns add "$(ns "$host")"
  port="p-${host}"
  ip -n "$net" link add "$port" type veth peer name eth0 netns "$(ns "$host")"
  ip -n "$net" link set "$port" master switch up
  on "$host" ip link set lo up
  on "$host" ip addr add "${address[$host]}/24" dev eth0
  on "$host" ip link set eth0 up
  if [[ $host == shuffle-* ]]; then
    # Both directions: what the host sends and what the switch sends it.
    on "$host" tc qdisc add dev eth0 root tbf rate 100mbit burst 256kb latency 100ms
    ip netns exec "$net" tc qdisc add dev "$port" root tbf rate 100mbit burst 256kb latency 100ms
  fi
done
say "5 hosts on 10.77.0.0/24"

"$faro" identity --out "$state/identity" >/dev/null
id=$state/identity
tls=(--cert "$id/node.pem" --key "$id/node.key" --ca "$id/ca.pem")

start() { # start HOST LOG READY_TEXT ARGS...: runs faro on HOST, waits for READY_TEXT
  local host=$1 log=$2 ready=$3
  shift 3
  # Not through `on`: a backgrounded function is a subshell, and $! would
  # name it instead of the process (ip netns exec execs faro in place).
  ip netns exec "$(ns "$host")" "$faro" "$@" >"$state/$log.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    grep -q "$ready" "$state/$log.log" && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || fail "$log exited"
    sleep 0.1
  done
  fail "$log never said '$ready'"
}

for node in shuffle-0 shuffle-1; do
  start "$node" "$node" "faro shuffle-service" shuffle-service \
    --listen "${address[$node]}:7077" --data-dir "$state/$node" \
    --secret-file "$id/cluster-secret" "${tls[@]}"
done
scheduler=${address[scheduler]}:7070
start scheduler scheduler "REST API" scheduler --listen "$scheduler" \
  --data-dir "$state/scheduler" --secret-file "$id/cluster-secret" \
  --shuffle-node "shuffle-0=${address[shuffle-0]}:7077" \
  --shuffle-node "shuffle-1=${address[shuffle-1]}:7077" --replicas 2 \
  --heartbeat-timeout-ms 30000 --token-file "$id/api-token" "${tls[@]}"
for worker in worker-0 worker-1; do
  start "$worker" "$worker" "registered" worker --scheduler "$scheduler" \
    --slots 2 --listen "${address[$worker]}:7080" "${tls[@]}" \
    --metrics "${address[$worker]}:9464" --token-file "$id/api-token"
done
say "2 shuffle nodes, a scheduler and 2 workers up"

faro_on_scheduler() { on scheduler "$faro" "$@" --scheduler "http://$scheduler" --token-file "$id/api-token"; }
field() { # field EXPR < STATUS: a Python expression over the job status `j`
  python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}
result_of() { # result_of JOB: the job's collected rows, as JSON
  on scheduler python3 - "$scheduler" "$1" "$id/api-token" <<'EOF'
import json, sys, urllib.request
scheduler, job, token_file = sys.argv[1], sys.argv[2], sys.argv[3]
token = open(token_file).read().strip()
request = urllib.request.Request(f"http://{scheduler}/v1/jobs/{job}/result",
                                 headers={"Authorization": f"Bearer {token}"})
with urllib.request.urlopen(request) as answer:
    print(json.dumps(json.load(answer), sort_keys=True))
EOF
}

fetch_moves() { # fetch_moves: shuffle fetches the workers moved to another replica, summed
  on scheduler python3 - "$id/api-token" "${address[worker-0]}" "${address[worker-1]}" <<'EOF'
import sys, urllib.request
token = open(sys.argv[1]).read().strip()
total = 0
for host in sys.argv[2:]:
    request = urllib.request.Request(f"http://{host}:9464/metrics",
                                     headers={"Authorization": f"Bearer {token}"})
    for line in urllib.request.urlopen(request).read().decode().splitlines():
        if line.startswith("faro_worker_shuffle_fetch_moves_total "):
            total += int(float(line.split()[1]))
print(total)
EOF
}

"$faro" run "$job" >"$state/expected.txt" 2>/dev/null || fail "faro run $job failed"

now() { date +%s.%N; }
took() { python3 -c "print(f'{$(now) - $1:.1f} s')"; }

# 1. The job as is, through `faro submit --wait` as a user runs it.
began=$(now)
faro_on_scheduler submit "$job" --wait >"$state/first.txt" 2>"$state/submit.log" ||
  fail "run 1 failed"
first_took=$(took "$began")
diff -u "$state/expected.txt" "$state/first.txt" || fail "run 1's result differs from faro run's"
first_id=$(sed -n 's/^submitted \([^;]*\);.*/\1/p' "$state/submit.log")
say "run 1: the result matches faro run's ($first_took)"

# 2. Again, cutting a shuffle host's link once the map stage has
# committed and the reducers are reading from it.
sent_by() { # sent_by HOST: bytes the host has sent into the switch
  ip netns exec "$net" cat "/sys/class/net/p-$1/statistics/rx_bytes"
}
began=$(now)
job_id=$(faro_on_scheduler submit "$job")
cut=""
cut_host=""
for _ in $(seq 1 600); do
  current=$(faro_on_scheduler status "$job_id" --json)
  state_now=$(field 'j["state"]' <<<"$current")
  [[ $state_now == running || $state_now == queued ]] || break
  if [[ $(field 'len(j["done_regions"])' <<<"$current") -ge 1 ]]; then
    before0=$(sent_by shuffle-0) before1=$(sent_by shuffle-1)
    sleep 0.2
    served0=$(($(sent_by shuffle-0) - before0)) served1=$(($(sent_by shuffle-1) - before1))
    if ((served0 >= served1)); then cut_host=shuffle-0 survivor=shuffle-1; else cut_host=shuffle-1 survivor=shuffle-0; fi
    ip -n "$net" link set "p-$cut_host" down
    cut=$(now)
    say "run 2: map stage committed after $(took "$began"); $cut_host's link cut while the reducers read from it"
    break
  fi
  sleep 0.1
done
[[ -n $cut ]] || fail "run 2 ended ($state_now) before its map stage was seen committed"
for _ in $(seq 1 1200); do
  current=$(faro_on_scheduler status "$job_id" --json)
  state_now=$(field 'j["state"]' <<<"$current")
  [[ $state_now == running || $state_now == queued ]] || break
  sleep 0.1
done
[[ $state_now == finished ]] || fail "run 2 ended $state_now: $(field 'j["error"]' <<<"$current")"

attempts() { # attempts VERTEX_PREFIX: the most attempts any of its subtasks took
  field "max(len(t['attempts']) for t in j['tasks'] if t['vertex'].startswith('$1'))" <<<"$current"
}
map_attempts=$(attempts rows)
reduce_attempts=$(attempts agg)
lost=$(field 'j["reruns"]["lost_partitions"]' <<<"$current")
[[ $map_attempts == 1 && $lost == 0 ]] ||
  fail "the map stage ran again (attempts $map_attempts, lost partitions $lost): the replica was not used"
moved=$(cat "$state"/worker-*.log | grep "job=$job_id" | grep -c "resuming on another replica" || true)
((moved > 0 || reduce_attempts >= 2)) ||
  fail "no reducer noticed the cut (no fetch moved, attempts $reduce_attempts): it came too late to test anything"
counted=$(fetch_moves)
[[ $counted == "$moved" ]] ||
  fail "the workers' faro_worker_shuffle_fetch_moves_total says $counted moves, their logs $moved"
[[ $(result_of "$first_id") == "$(result_of "$job_id")" ]] ||
  fail "run 2's result differs from run 1's"
say "run 2: finished from $survivor's replica $(took "$cut") after the cut, $(took "$began") in all (run 1: $first_took); $moved fetches resumed on the replica (the workers' faro_worker_shuffle_fetch_moves_total agrees), map attempts 1, reducer attempts $reduce_attempts; same result"
say "PASSED"
