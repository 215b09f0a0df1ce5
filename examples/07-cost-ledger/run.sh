#!/usr/bin/env bash
# The cost ledger: two deliveries of a FOCUS 1.2 billing export (two months, three teams,
# a shared platform team, untagged rows, one day when Bedrock spend jumped) go into the
# ledger; a budget fires once per threshold to a webhook; ingesting again changes nothing;
# allocation splits the shared team's cost and keeps every month's total to the cent;
# the anomaly is found with its root cause; a forecast and an HTML page close the month.
set -euo pipefail
work=$(mktemp -d)
cleanup() {
  [ -n "${receiver:-}" ] && kill "$receiver" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export ALIGNOPS_DATABASE_URL="sqlite:///$work/state.db"
cd "$work"

# A receiver standing in for Slack: it appends each message body to received.jsonl.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" "$work/received.jsonl" <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, out = int(sys.argv[1]), sys.argv[2]
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "a") as f:
            f.write(body.decode() + "\n")
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args): pass
HTTPServer(("127.0.0.1", port), Handler).serve_forever()
PY
receiver=$!
touch received.jsonl
export SLACK_WEBHOOK_URL="http://127.0.0.1:$port/services/T0/B0/example-07"

alignops init repo >/dev/null
cd repo
cat > alerts/routes.yaml <<'YAML'
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: ai-ops-alerts
spec:
  target: slack://#finops
  secretRef:
    env: SLACK_WEBHOOK_URL
YAML
cat >> alignops.yaml <<'YAML'
finops:
  costMetric: BilledCost
  allocation:
    - dimension: team
      sharedValues: [platform]
      shared: proportional
YAML
git add -A && git commit -qm "Cost ledger settings; budget route to #finops"

# Two exports of August and September 2026: FOCUS 1.2 columns, one row per team, service
# and day; the platform team is shared; some rows carry no tags; Bedrock jumps on Sep 10.
python3 - <<'PY'
import csv, json, random
from datetime import date, timedelta
random.seed(7)
cols = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingAccountId",
        "BillingAccountName", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
        "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass",
        "ChargeDescription", "ChargeFrequency", "ConsumedQuantity", "ConsumedUnit",
        "InvoiceIssuerName", "InvoiceId", "PricingCategory", "PricingCurrency", "PricingQuantity",
        "PricingUnit", "ProviderName", "PublisherName", "RegionId", "ServiceCategory",
        "ServiceName", "SkuId", "SubAccountId", "Tags"]
teams = {"ai-platform": 18.0, "growth": 7.0, "platform": 5.0, None: 2.0}
services = [("Amazon SageMaker", "AI and Machine Learning"), ("Amazon Bedrock", "AI and Machine Learning"),
            ("Amazon S3", "Storage")]
def rows(first, last):
    day = first
    while day <= last:
        month = day.replace(day=1)
        end = (month + timedelta(days=32)).replace(day=1)
        for team, level in teams.items():
            for service, category in services:
                cost = level / 3 * (1.25 if day.weekday() < 5 else 0.6) * random.uniform(0.93, 1.07)
                if team == "growth" and service == "Amazon Bedrock" and day == date(2026, 9, 10):
                    cost *= 12
                tags = json.dumps({"team": team, "env": "prod"}) if team else "NULL"
                yield [f"{cost:.6f}", f"{cost:.6f}", f"{cost:.6f}", f"{cost:.6f}", "111122223333",
                       "Example Corp", "USD", f"{month} 00:00:00", f"{end} 00:00:00",
                       f"{day} 00:00:00", f"{day + timedelta(days=1)} 00:00:00", "Usage", "NULL",
                       f"{service} usage", "Usage-Based", "1", "Hours", "AWS", f"INV-{month:%Y%m}",
                       "Standard", "USD", "1", "Hours", "AWS", "AWS", "us-east-1", category, service,
                       service[:6].upper(), "444455556666", tags]
        day += timedelta(days=1)
for name, first, last in (("focus-2026-08-01-to-09-15.csv", date(2026, 8, 1), date(2026, 9, 15)),
                          ("focus-2026-09-16-to-09-29.csv", date(2026, 9, 16), date(2026, 9, 29))):
    with open(f"../{name}", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(cols)
        writer.writerows(rows(first, last))
PY

echo "== first delivery (to Sep 15): budget evaluated as of that day"
alignops cost ingest ../focus-2026-08-01-to-09-15.csv --today 2026-09-15
echo "== second delivery (to Sep 29)"
alignops cost ingest ../focus-2026-09-16-to-09-29.csv --today 2026-09-29
echo "== both again: nothing changes, nothing fires"
alignops cost ingest ../focus-2026-08-01-to-09-15.csv ../focus-2026-09-16-to-09-29.csv \
  --today 2026-09-29 -o json > again.json
echo "== allocation by team, per month"
alignops cost report --by team --window month --from 2026-08-01 --to 2026-10-01
alignops cost report --by team --window month --from 2026-08-01 --to 2026-10-01 -o json > report.json
echo "== anomalies"
alignops cost anomalies --today 2026-09-29 --since 2026-09-01 --dimension team -o json > anomalies.json
alignops cost anomalies --today 2026-09-29 --since 2026-09-01 --dimension team
echo "== forecast to the end of October"
alignops cost forecast --by team --today 2026-09-29 --until 2026-10-31
alignops cost report --by team --html ../cost.html --today 2026-09-29 >/dev/null

python3 - "$work" <<'PY'
import json, sys
from decimal import Decimal
work = sys.argv[1]
messages = [json.loads(line) for line in open(f"{work}/received.jsonl") if line.strip()]
texts = [m.get("text", "") for m in messages]
print("\n".join(f"webhook received: {t}" for t in texts))
budget = [t for t in texts if "ai-platform-monthly" in t]
assert len(budget) == 4 and len(set(budget)) == 4, texts          # 50, forecast 100, 80, 100
again = json.load(open("again.json"))
assert [f["status"] for f in again["files"]] == ["skipped", "skipped"], again["files"]
report = json.load(open("report.json"))
for t in report["totals"]:
    assert Decimal(t["allocated"]) + Decimal(t["unallocated"]) == Decimal(t["total"]), t
teams = {l["values"]["team"] for l in report["lines"] if l["allocated"]}
assert "platform" not in teams and {"ai-platform", "growth"} <= teams, teams
found = json.load(open("anomalies.json"))["anomalies"]
growth = [a for a in found if a["value"] == "growth" and a["day"] == "2026-09-10"]
assert growth, found
causes = growth[0]["rootCauses"]
assert causes and "Amazon Bedrock" in json.dumps(causes[0]), causes
html = open(f"{work}/cost.html").read()
assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
print("example 07: OK")
PY
