#!/usr/bin/env bash
set -euo pipefail
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export ALIGNOPS_DATABASE_URL="sqlite:///$work/state.db"
cd "$work"
alignops init repo >/dev/null
cd repo

cat > policies/serverless_v1.rego <<'REGO'
package finops.policy.serverless_v1

deny contains msg if {
	input.kind == "ServerlessFunction"
	input.spec.memory > 512
	msg := "Serverless function memory limit exceeds 512MB for cost optimization."
}
REGO
sed -i 's/memory: 256/memory: 1024/' functions/scorer.yaml

status=0; alignops check -o json > verdict.json || status=$?
[ "$status" -eq 1 ] || { echo "expected deny, got $status"; exit 1; }
python3 - <<'PY'
import json
v = json.load(open("verdict.json"))
found = sorted((f["rule"], f["message"]) for f in v["findings"])
msg = "Serverless function memory limit exceeds 512MB for cost optimization."
assert found == [("finops.policy.serverless.deny", msg), ("finops.policy.serverless_v1.deny", msg)], found
print("v0 and v1 rules both deny with the brief's message")
PY

cat > policies/pitfall.rego <<'REGO'
package pitfall

import rego.v1

deny[msg] if {
	input.kind == "ServerlessFunction"
	msg := "never reached as a set"
}
REGO
status=0; alignops check 2> error.txt || status=$?
[ "$status" -eq 2 ] || { echo "expected input error, got $status"; exit 1; }
grep -q "policies/pitfall.rego:5" error.txt
grep -q "deny contains msg if" error.txt
cat error.txt
echo "example 03: OK"
