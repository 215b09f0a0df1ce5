#!/usr/bin/env bash
# Delivery: a model version committed, gated, served (scaled to zero, started by the first
# request), replaced by the next version; a non-compliant version refused while the old
# one keeps serving; `alignops rollback` putting Git back, twice.
set -euo pipefail
work=$(mktemp -d)
cleanup() { (cd "$work/repo" 2>/dev/null && alignops down >/dev/null 2>&1) || true; rm -rf "$work"; }
trap cleanup EXIT
export ALIGNOPS_DATABASE_URL="sqlite:///$work/state.db"
cd "$work"
alignops init repo >/dev/null
cd repo

# A team rule: every model served must declare its input columns.
cat > policies/features.rego <<'REGO'
package team.features

import rego.v1

deny contains msg if {
	input.kind == "Model"
	not input.spec.features
	msg := sprintf("Model %s does not list spec.features (the columns it is served with)", [input.metadata.name])
}
REGO

# model VERSION SEED [features]: train a small classifier and write its Model manifest.
model() {
python3 - "$@" <<'PY'
import hashlib, sys
from pathlib import Path
import numpy as np, pandas as pd, skops.io as sio
from sklearn.linear_model import LogisticRegression
version, seed, listed = sys.argv[1], int(sys.argv[2]), len(sys.argv) < 4
rng = np.random.default_rng(seed)
X = pd.DataFrame(rng.normal(size=(400, 2)), columns=["amount", "age"])
model = LogisticRegression().fit(X, (X["amount"] + seed * X["age"] > 0).astype(int))
data = sio.dumps(model)
Path("models").mkdir(exist_ok=True)
Path("models/scorer.skops").write_bytes(data)
features = "  features: [amount, age]\n" if listed else ""
Path("models/scorer.yaml").write_text(f"""apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: scorer
  labels:
    team: risk
spec:
  version: "{version}"
  artifact:
    uri: models/scorer.skops
    sha256: "{hashlib.sha256(data).hexdigest()}"
{features}""")
PY
}
mkdir -p deployments
cat > deployments/scorer-api.yaml <<'YAML'
apiVersion: alignops.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: scorer-api
  labels:
    team: risk
spec:
  model: scorer
  environment: staging
  memory: 512
  timeoutSeconds: 10
  scaling:
    minScale: 0
    idleTimeoutSeconds: 60
YAML
model 1.0.0 1
git add -A && git commit -qm "Serve scorer 1.0.0"

alignops sync --env staging >/dev/null
url=$(alignops status --env staging -o json | python3 -c \
  'import json,sys; print(next(s["url"] for s in json.load(sys.stdin)["services"] if s["service"]=="ModelDeployment/scorer-api"))')
echo "scorer-api scales to zero at $url"

predict() {  # prints "VERSION PREDICTIONS"
  curl -sf -X POST "$url/predict" -H 'content-type: application/json' \
    -d '{"rows": [{"amount": 1.5, "age": -0.2}, {"amount": -2.0, "age": 0.4}]}' |
    python3 -c 'import json,sys; a=json.load(sys.stdin); print(a["version"], a["predictions"])'
}
headers=$(curl -si -X POST "$url/predict" -H 'content-type: application/json' -d '{"rows": [{"amount": 1.5, "age": -0.2}]}')
grep -qi '^x-alignops-cold-start:' <<<"$headers" || { echo "expected a cold start"; exit 1; }
echo "first request: cold start of $(grep -i '^x-alignops-cold-start:' <<<"$headers" | tr -d '\r' | cut -d' ' -f2) ms"
[[ $(predict) == "1.0.0 "* ]] || { echo "expected 1.0.0"; exit 1; }
echo "serving: $(predict)"

model 2.0.0 2
git commit -qam "scorer 2.0.0"
alignops sync --env staging >/dev/null
[[ $(predict) == "2.0.0 "* ]] || { echo "expected 2.0.0"; exit 1; }
echo "after the next commit: $(predict)"

model 3.0.0 3 no-features
git commit -qam "scorer 3.0.0 (features not listed)"
status=0; alignops sync --env staging -o json > refused.json || status=$?
[ "$status" -eq 1 ] || { echo "expected the sync to be refused (exit 1), got $status"; exit 1; }
python3 -c 'import json; r=json.load(open("refused.json")); assert r["outcome"]=="refused", r["outcome"]; print("refused:", r["denials"][0]["message"])'
[[ $(predict) == "2.0.0 "* ]] || { echo "2.0.0 should keep serving"; exit 1; }
echo "still serving: $(predict)"

alignops rollback scorer-api --env staging >/dev/null
git log -1 --format='rollback commit: %h %s'
[[ $(predict) == "2.0.0 "* ]] || { echo "expected 2.0.0 after the rollback"; exit 1; }
alignops rollback scorer-api --env staging >/dev/null    # and once more: back to 1.0.0
git log -1 --format='rollback commit: %h %s'
[[ $(predict) == "1.0.0 "* ]] || { echo "expected 1.0.0 after the second rollback"; exit 1; }
echo "serving again: $(predict)"

alignops status --env staging
alignops history --env staging --limit 6
alignops audit verify >/dev/null
echo "example 05: OK"
