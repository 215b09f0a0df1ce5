#!/usr/bin/env bash
# Monitoring: a served model watched on live traffic. Drifted requests open an alert that
# reaches a signed webhook once per window, with a retraining request proposed; a silence
# holds the next notification; `alignops alerts remediate` commits the request on a branch.
set -euo pipefail
work=$(mktemp -d)
cleanup() {
  (cd "$work/repo" 2>/dev/null && alignops down >/dev/null 2>&1) || true
  [ -n "${receiver:-}" ] && kill "$receiver" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export ALIGNOPS_DATABASE_URL="sqlite:///$work/state.db"
export ALERT_HMAC_KEY="example-06-hmac-key"
cd "$work"

# A webhook receiver standing in for an incident tool: it writes each body and signature.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" "$work/received.jsonl" <<'PY' &
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, out = int(sys.argv[1]), sys.argv[2]
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "a") as f:
            f.write(json.dumps({"signature": self.headers.get("X-Alignops-Signature-256"),
                                "body": body.decode()}) + "\n")
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args): pass
HTTPServer(("127.0.0.1", port), Handler).serve_forever()
PY
receiver=$!
touch received.jsonl

alignops init repo >/dev/null
cd repo
rm -f functions/scorer.yaml functions/scorer.py

# The model, and the reference data live traffic is compared with (its profile: deciles).
python3 <<'PY'
import hashlib
from pathlib import Path
import numpy as np, pandas as pd, skops.io as sio
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(6)
X = pd.DataFrame(rng.normal(size=(2000, 2)), columns=["amount", "age"])
y = (X["amount"] + X["age"] > 0).astype(int)
Path("data").mkdir(exist_ok=True)
X.assign(label=y).to_csv("data/reference.csv", index=False)
data = sio.dumps(LogisticRegression().fit(X, y))
Path("models").mkdir(exist_ok=True)
Path("models/scorer.skops").write_bytes(data)
ref = hashlib.sha256(Path("data/reference.csv").read_bytes()).hexdigest()
Path("models/scorer.yaml").write_text(f"""apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: scorer
spec:
  version: "1.0.0"
  artifact:
    uri: models/scorer.skops
    sha256: "{hashlib.sha256(data).hexdigest()}"
  features: [amount, age]
  datasets:
    reference: scorer-reference
---
apiVersion: alignops.dev/v1alpha1
kind: Dataset
metadata:
  name: scorer-reference
spec:
  uri: data/reference.csv
  sha256: "{ref}"
  role: reference
  label: label
""")
PY
mkdir -p deployments alerts
cat > deployments/scorer-api.yaml <<'YAML'
apiVersion: alignops.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: scorer-api
spec:
  model: scorer
  environment: staging
  memory: 512
  scaling:
    minScale: 1
YAML
cat > alerts/incidents.yaml <<YAML
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: incidents
spec:
  target: "webhook://127.0.0.1:$port/alerts"
  secretRef:
    env: ALERT_HMAC_KEY   # the HMAC key signing each body; never in Git
YAML
cat > alerts/scorer-drift.yaml <<YAML
apiVersion: alignops.dev/v1alpha1
kind: AlertRule
metadata:
  name: scorer-drift
spec:
  selector:
    deployments: [scorer-api]
  metric: psi
  op: ">"
  threshold: 0.2
  severity: critical
  alertTarget: "webhook://127.0.0.1:$port/alerts"
  remediation:
    action: retrain      # proposed: a person runs \`alignops alerts remediate ID\`
YAML
cat >> alignops.yaml <<'YAML'
monitoring:
  windowSeconds: 5     # short windows for the example (default: one hour)
  minRequests: 10
YAML
git add -A && git commit -qm "Serve scorer with a drift alert to the incident webhook"
alignops sync --env staging >/dev/null
url=$(alignops status --env staging -o json | python3 -c \
  'import json,sys; print(next(s["url"] for s in json.load(sys.stdin)["services"] if s["service"]=="ModelDeployment/scorer-api"))')

# send SHIFT: 20 requests of 10 rows, "amount" shifted by SHIFT; then wait until the
# window has closed and its telemetry is written (the monitor judges it 10 s after).
send() {
  python3 - "$url" "$1" <<'PY'
import json, sys, urllib.request
import numpy as np
url, shift = sys.argv[1], float(sys.argv[2])
rng = np.random.default_rng()
for _ in range(20):
    rows = [{"amount": float(a) + shift, "age": float(b)} for a, b in rng.normal(size=(10, 2))]
    request = urllib.request.Request(f"{url}/predict", json.dumps({"rows": rows}).encode(),
                                     {"content-type": "application/json"})
    urllib.request.urlopen(request).read()
PY
  sleep 17
}
messages() { wc -l < ../received.jsonl | tr -d ' '; }

send 0
alignops monitor run --once >/dev/null
[ "$(messages)" -eq 0 ] || { echo "no alert expected on reference-like traffic"; exit 1; }
echo "traffic like the reference: no alert"

send 3
alignops monitor run --once >/dev/null || true   # exit 1 lists a problem, if any
[ "$(messages)" -eq 1 ] || { echo "expected one webhook message, got $(messages)"; exit 1; }
python3 - "$ALERT_HMAC_KEY" <<'PY'
import hashlib, hmac, json, sys
sent = json.loads(open("../received.jsonl").readline())
expected = "sha256=" + hmac.new(sys.argv[1].encode(), sent["body"].encode(), hashlib.sha256).hexdigest()
assert hmac.compare_digest(sent["signature"], expected), "signature does not verify"
body = json.loads(sent["body"])
print(f"webhook got (signature verified): [{body['severity']}] {body['title']}")
print("  " + body["text"].splitlines()[0])
PY
alignops alerts list
id=$(alignops alerts list -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["alerts"][0]["id"])')

alignops alerts silence --match deployment=scorer-api --for 1h --comment "retraining under way" >/dev/null
send 3
alignops monitor run --once >/dev/null || true
[ "$(messages)" -eq 1 ] || { echo "the silence should hold the next notification"; exit 1; }
echo "silenced: the next drifted window notified nobody"

alignops alerts remediate "$id"
branch=$(git branch --list 'alignops/retrain/*' --format='%(refname:short)')
[ -n "$branch" ] || { echo "expected a retraining branch"; exit 1; }
git log -1 --format='retraining request: %h %s' "$branch"
alignops audit verify >/dev/null
echo "example 06: OK"
