#!/usr/bin/env bash
# Checks the monitoring examples with promtool:
#   - deploy/prometheus/prometheus.yml: `promtool check config`;
#   - deploy/grafana/faro-dashboard.json: well-formed JSON, and every panel
#     query parses as PromQL (checked as recording rules).
# Needs promtool (Prometheus 2.42 or later) and python3. Run from anywhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if ! command -v promtool >/dev/null 2>&1; then
  echo "check.sh: promtool not found. Install it (Debian/Ubuntu: apt-get install prometheus;" \
    "or the release archive from https://prometheus.io/download/) and run again." >&2
  exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "check.sh: python3 not found; it reads the dashboard's JSON." >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# promtool opens the bearer token file the scrape jobs name: check a copy
# pointing at a stand-in.
echo "a-stand-in-token" >"$work/faro-api-token"
sed "s|/etc/prometheus/faro-api-token|$work/faro-api-token|" \
  deploy/prometheus/prometheus.yml >"$work/with-token.yml"
config=$work/with-token.yml
if ! output=$(promtool check config "$config" 2>&1); then
  if ! grep -q 'field kubernetes_sd_configs not found' <<<"$output"; then
    echo "$output" >&2
    exit 1
  fi
  # Debian's promtool is built without Kubernetes discovery. Check the rest
  # of the file, relabelling included, with that block swapped for a
  # static target.
  echo "note: this promtool has no kubernetes_sd_configs (Debian builds drop it);" \
    "checking deploy/prometheus/prometheus.yml with it replaced by a static target"
  awk '
    skip { match($0, /^ */); if (RLENGTH > indent && $0 ~ /[^ ]/) next; skip = 0 }
    /^ *kubernetes_sd_configs:/ {
      indent = match($0, /[^ ]/) - 1
      print substr($0, 1, indent) "static_configs: [{targets: [\"pod.invalid:9464\"]}]"
      skip = 1
      next
    }
    { print }
  ' "$config" >"$work/prometheus.yml"
  promtool check config "$work/prometheus.yml"
else
  echo "$output"
fi

dashboard=deploy/grafana/faro-dashboard.json
python3 -m json.tool "$dashboard" >/dev/null
python3 - "$dashboard" >"$work/dashboard-queries.yml" <<'PY'
import json, sys

dashboard = json.load(open(sys.argv[1]))
print("groups:\n  - name: faro-dashboard\n    rules:")
n = 0
for panel in dashboard["panels"]:
    for target in panel.get("targets", []):
        n += 1
        # Template variables are not PromQL; `$job` only appears in `=~"$job"`.
        expr = target["expr"].replace("$job", ".*")
        print(f"      - record: faro_dashboard_query_{n}\n        expr: {json.dumps(expr)}")
PY
echo "Checking the queries of $dashboard"
promtool check rules "$work/dashboard-queries.yml"
