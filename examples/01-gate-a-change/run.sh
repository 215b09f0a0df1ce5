#!/usr/bin/env bash
set -euo pipefail
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export ALIGNOPS_DATABASE_URL="sqlite:///$work/state.db"
cd "$work"

alignops init repo >/dev/null
cd repo
git checkout -q -b feature

cat > functions/report.yaml <<'YAML'
apiVersion: alignops.dev/v1alpha1
kind: ServerlessFunction
metadata:
  name: report-builder
  labels: {team: ai-platform}
spec:
  handler: functions.scorer:score
  memory: 256
YAML
git add -A && git -c user.name=dev -c user.email=dev@example.com commit -qm "add report-builder"
alignops check HEAD --base main                  # PASS: 1 of 5 resources checked

sed -i 's/memory: 256/memory: 1024/' functions/scorer.yaml
git -c user.name=dev -c user.email=dev@example.com commit -qam "scorer needs 1 GiB"

status=0; alignops check HEAD --base main || status=$?
[ "$status" -eq 1 ] || { echo "expected deny (exit 1), got $status"; exit 1; }

alignops check HEAD --base main -o markdown > comment.md || true
grep -q "Serverless function memory limit exceeds 512MB for cost optimization." comment.md
alignops check HEAD --base main -o sarif > alignops.sarif || true
python3 -c 'import json,sys; r=json.load(open("alignops.sarif"))["runs"][0]["results"]; sys.exit(0 if r[0]["level"]=="error" else 1)'
alignops check HEAD --base main -o junit > junit.xml || true
grep -q '<failure message="Serverless function memory limit' junit.xml
cat comment.md
alignops audit verify
echo "example 01: OK"
