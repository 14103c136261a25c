#!/usr/bin/env bash
# Faro and Spark side by side on this machine, the same inputs, in one run:
# the jobs of issue 18's table, interleaved round by round.
#
#   bench/compare.sh [ROUNDS]        (default 3)
#
# Faro: `faro run` on its embedded cluster (a slot per core), wall time and
# peak RSS from /usr/bin/time, bytes shipped from its summary line. Spark:
# pyspark in local[2] (installed on first use into $FARO_SPARK_VENV with
# pip; needs a JDK 17+), each job twice per session: cold (class loading,
# code generation) and warm, and the session's start (JVM and set-up).
# Ratios: against one spark-submit of the job (start + cold, what a user
# waits for, measured as `faro run` is: the whole process) and against the
# warm run alone (the strictest). Inputs are made once under $FARO_COMPARE_DIR:
#   - wordcount: examples/data/dataflow.txt repeated to 59 MB;
#   - sort: 10M rows × 100 B of CSV in two files (bench/compare/gen_sort_input.yaml);
#   - shuffle-agg generates its 20M rows.
# Not part of CI: it downloads pyspark and takes a few minutes.
set -euo pipefail

ROUNDS="${1:-3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${FARO_COMPARE_DIR:-/tmp/faro-compare}"
VENV="${FARO_SPARK_VENV:-$DATA/spark-venv}"
FARO="$ROOT/target/release/faro"
JOBS="$ROOT/bench/compare"
mkdir -p "$DATA"

(cd "$ROOT" && cargo build --release --quiet -p faro)
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import pyspark" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet pyspark==4.3.0
fi

cd "$DATA"
if [[ ! -f wordcount-input.txt ]]; then
  python3 -c "import sys; t=open(sys.argv[1]).read(); open('wordcount-input.txt','w').write(t*40000)" \
    "$ROOT/examples/data/dataflow.txt"
fi
if [[ ! -d sort-input ]]; then
  "$FARO" run "$JOBS/gen_sort_input.yaml" 2>/dev/null
fi

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, at $(cd "$ROOT" && git rev-parse --short HEAD)"
dd if=/dev/zero of=dd.test bs=1M count=1024 conv=fdatasync 2>&1 | awk '/copied/ {print "# disk: 1 GiB written + fdatasync at " $(NF-1) " " $NF}'
rm -f dd.test

# job name, Faro spec, Spark job, Spark input
CASES=(
  "shuffle-agg|$ROOT/examples/shuffle_agg.json|shuffle-agg|"
  "wordcount|$JOBS/wordcount.yaml|wordcount|wordcount-input.txt"
  "sort|$JOBS/sort.yaml|sort|sort-input"
)

RESULTS="$DATA/results.tsv"
: > "$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for case in "${CASES[@]}"; do
    IFS='|' read -r name spec spark_job input <<< "$case"
    summary=$(/usr/bin/time -f "TIME %e %M" "$FARO" run "$spec" 2>&1 >/dev/null | grep -E "TIME|finished")
    seconds=$(awk '/^TIME/ {print $2}' <<< "$summary")
    rss_mb=$(awk '/^TIME/ {printf "%d", $3 / 1024}' <<< "$summary")
    shipped=$(grep -oE '[0-9.]+ MB shipped' <<< "$summary" | awk '{print $1}')
    read -r _ start cold warm < <("$VENV/bin/python" "$JOBS/spark_jobs.py" "$spark_job" $input 2>/dev/null | tail -1)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$seconds" "$rss_mb" "$shipped" "$cold" "$warm" "$start" >> "$RESULTS"
    printf 'round %s %-12s faro %6.2f s (%s MB RSS, %s MB shipped)   spark start %5.2f s, cold %6.2f s, warm %6.2f s\n' \
      "$round" "$name" "$seconds" "$rss_mb" "$shipped" "$start" "$cold" "$warm"
  done
done

echo
echo "| job | Faro (median) | Faro peak RSS | shipped | Spark start | Spark cold | Spark warm | one submit / Faro | warm / Faro |"
echo "|---|---|---|---|---|---|---|---|---|"
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
for name in dict.fromkeys(r[0] for r in rows):
    mine = [r for r in rows if r[0] == name]
    faro = statistics.median(float(r[2]) for r in mine)
    rss = max(int(r[3]) for r in mine)
    shipped = mine[0][4]
    cold = statistics.median(float(r[5]) for r in mine)
    warm = statistics.median(float(r[6]) for r in mine)
    submit = statistics.median(float(r[7]) + float(r[5]) for r in mine)
    start = statistics.median(float(r[7]) for r in mine)
    print(f"| {name} | {faro:.2f} s | {rss} MB | {shipped} MB | {start:.2f} s | {cold:.2f} s | {warm:.2f} s "
          f"| {submit / faro:.1f}× | {warm / faro:.1f}× |")
PY
