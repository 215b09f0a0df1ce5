#!/usr/bin/env bash
set -euo pipefail
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export ALIGNOPS_DATABASE_URL="sqlite:///$work/state.db"
cd "$work"
alignops init repo >/dev/null
cd repo

cat > functions/batch.yaml <<'YAML'
apiVersion: alignops.dev/v1alpha1
kind: ServerlessFunction
metadata:
  name: batch-scorer
  labels: {team: ai-platform}
spec:
  handler: functions.scorer:score
  memory: 2048
YAML

write_waiver() {
cat > policies/waivers.yaml <<YAML
apiVersion: alignops.dev/v1alpha1
kind: Exception
metadata:
  name: batch-scorer-memory
spec:
  rules: [finops.policy.serverless.deny]
  resources: [ServerlessFunction/batch-*]
  reason: nightly batch needs 2 GiB until the model is distilled (RISK-142)
  owner: ml-platform@example.com
  expiresAt: "$1"
YAML
}

write_waiver 2999-01-01T00:00:00Z
alignops check -o json > live.json
python3 - <<'PY'
import json
v = json.load(open("live.json"))
assert v["outcome"] == "pass", v["outcome"]
(f,) = v["findings"]
assert f["status"] == "waived" and f["waiver"]["owner"] == "ml-platform@example.com"
print("live waiver: pass, finding reported as waived")
PY

write_waiver 2020-01-01T00:00:00Z
status=0; alignops check -o json > expired.json || status=$?
[ "$status" -eq 1 ] || { echo "expected deny after expiry, got $status"; exit 1; }
python3 - <<'PY'
import json
v = json.load(open("expired.json"))
rules = sorted(f["rule"] for f in v["findings"])
assert rules == ["alignops.exception.expired", "finops.policy.serverless.deny"], rules
print("expired waiver: deny, and the expired Exception is named")
PY
alignops check || true
echo "example 02: OK"
