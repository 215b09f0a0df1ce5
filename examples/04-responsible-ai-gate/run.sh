#!/usr/bin/env bash
# Responsible-AI gate on real census data: a biased model denied with its disparity,
# a mitigated one passing once two groups approved it with signed records.
set -euo pipefail
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export ALIGNOPS_DATABASE_URL="sqlite:///$work/state.db"
cd "$work"
alignops init --example acs-employment repo >/dev/null   # trains two models (~10 s)
cd repo

status=0; alignops check HEAD -o json > verdict.json || status=$?
[ "$status" -eq 1 ] || { echo "expected deny, got $status"; exit 1; }
python3 - <<'PY'
import json
v = json.load(open("verdict.json"))
def messages(model, severity="deny"):
    return [
        f["message"] for f in v["findings"]
        if f["resource"] == f"Model/{model}" and f["severity"] == severity
    ]
bias = [m for m in messages("employment-baseline") if m.startswith("demographic parity")]
assert bias and "over maxDisparity 0.05" in bias[0], messages("employment-baseline")
print("baseline:", bias[0].split(";")[0])
fair = messages("employment-fair")
assert len(fair) == 1 and fair[0].startswith("approval missing"), fair
print("fair:    ", fair[0].split(";")[0])
for warning in messages("employment-fair", "warn"):  # the team's own Rego rule on the evidence
    print("warning: ", warning)
drift = next(e for e in v["evidence"]["employment-fair"] if e["check"] == "drift")["metrics"]
print("PSI 2018 vs 2015:", ", ".join(f"{k} {x:.4f}" for k, x in list(drift["psi"].items())[:4]), "…")
PY

alignops evidence show HEAD --report reports >/dev/null
test -s reports/employment-fair-explainability.pdf
echo "explainability reports: $(ls reports)"

alignops approve Model/employment-fair --key .alignops/keys/ada --group ai-ethics-committee >/dev/null
alignops approve Model/employment-fair --key .alignops/keys/lin --group legal-compliance >/dev/null
git add approvals && git commit -qm "Approve employment-fair"

alignops check HEAD -o json > verdict.json || true
python3 - <<'PY'
import json
v = json.load(open("verdict.json"))
fair = [
    f for f in v["findings"] if f["resource"] == "Model/employment-fair" and f["severity"] == "deny"
]
assert fair == [], fair
print("fair: passes with", ", ".join(f"{a} ({g})" for a, g in v["approvals"]["employment-fair"]["high-risk-model-policy"]["counted"].items()))
PY
echo "example 04: OK"
