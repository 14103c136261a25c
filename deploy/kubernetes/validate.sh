#!/usr/bin/env bash
# Validates deploy/kubernetes/ offline, strictly (unknown fields fail),
# against the Kubernetes API schemas kubernetes-validate bundles:
#   - every manifest but kustomization.yaml, which is kustomize's input and
#     not a Kubernetes resource (there is no schema for it);
#   - with kubectl installed, what `kubectl kustomize` renders from it;
#   - with promtool installed, the monitoring examples
#     (deploy/prometheus/check.sh).
# Run from anywhere: deploy/kubernetes/validate.sh [KUBERNETES_VERSION]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# The oldest Kubernetes release the manifests target; kubernetes-validate
# 1.37.0 ships schemas for 1.25.0 to 1.37.0.
version=${1:-1.30.0}

# The console script may not be on PATH (pip --user, pyenv); the module is
# what counts.
if command -v kubernetes-validate >/dev/null 2>&1; then
  kubernetes_validate=(kubernetes-validate)
elif python3 -c 'import kubernetes_validate' >/dev/null 2>&1; then
  kubernetes_validate=(python3 -m kubernetes_validate)
else
  echo "validate.sh: kubernetes-validate not found; install it with:" \
    "pip install kubernetes-validate==1.37.0" >&2
  exit 1
fi

# kubernetes-validate exits 0 when it has no schema for a resource (a
# mistyped apiVersion or kind) and only warns: count that as a failure too.
validate() {
  local output status=0
  output=$("${kubernetes_validate[@]}" --strict --quiet -k "$version" "$@") || status=$?
  [[ -z $output ]] || echo "$output"
  if ((status != 0)) || grep -q '^WARN' <<<"$output"; then
    echo "validate.sh: FAILED against Kubernetes $version" >&2
    exit 1
  fi
}

manifests=()
for file in deploy/kubernetes/*.yaml; do
  [[ $(basename "$file") == kustomization.yaml ]] || manifests+=("$file")
done
validate "${manifests[@]}"
echo "ok: ${#manifests[@]} manifests in deploy/kubernetes valid for Kubernetes $version"

if command -v kubectl >/dev/null 2>&1; then
  rendered=$(kubectl kustomize deploy/kubernetes)
  validate - <<<"$rendered"
  echo "ok: kubectl kustomize deploy/kubernetes renders valid resources"
else
  echo "skipped: kubectl not found; kustomization.yaml not rendered"
fi

if command -v promtool >/dev/null 2>&1; then
  deploy/prometheus/check.sh
else
  echo "skipped: promtool not found; deploy/prometheus/check.sh not run"
fi
