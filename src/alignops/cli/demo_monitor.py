"""``alignops demo``, part 4: watch the deployed model on live traffic.

The census survey years 2016, 2017 and 2018 are replayed through the served model, one
ten-second window each; the monitor judges every window against the reference profile
of the revision that served it. Real drift (the ancestry code ``ANC`` shifts year by
year) crosses an early-warning rule in 2017, so an alert is posted to a Slack incoming
webhook — a local capture server standing in for Slack — once per window while the
drift lasts, a retraining request is committed on a branch, and replaying the 2015
reference data afterwards resolves the alert with one resolve notice.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from alignops.audit import AuditLog
from alignops.cli.output import console
from alignops.source import ConfigRepository

__all__ = ["watch_live_traffic"]

WINDOW_SECONDS = 10
SETTLE_SECONDS = 7
"""The runtime writes telemetry every 5 s; a window is judged once that has happened."""
BATCH_ROWS = 500
CLIENTS = 4
"""Concurrent clients replaying a year: the runtime scores their requests in batches."""
SLACK_ENV = "ALIGNOPS_DEMO_SLACK_WEBHOOK_URL"
SLACK_PATH = "/services/T0DEMO/B0DEMO/demo-webhook-secret"

ROUTE = f"""\
# Where #ai-ops-alerts goes: a Slack incoming webhook, whose URL is a secret kept out
# of Git (here: an environment variable the demo sets to a local capture server).
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: ai-ops-alerts
spec:
  target: "slack://#ai-ops-alerts"
  secretRef:
    env: {SLACK_ENV}
  rateLimit:
    maxPerHour: 30
"""

RULE = """\
# The policy gates on PSI 0.1. Live traffic is watched more tightly: an early warning
# at PSI 0.007 on any feature, which asks for retraining (low-risk: done automatically,
# as a branch with a request someone reviews).
apiVersion: alignops.dev/v1alpha1
kind: AlertRule
metadata:
  name: employment-drift-early-warning
spec:
  selector:
    deployments: [employment-fair]
    environments: [production]
  metric: psi
  op: ">"
  threshold: 0.007
  severity: warning
  alertTarget: "slack://#ai-ops-alerts"
  remediation:
    action: retrain
    automatic: true
"""

MONITORING = f"""
# Live traffic is cut into {WINDOW_SECONDS}-second windows for the demo (default: one hour).
monitoring:
  windowSeconds: {WINDOW_SECONDS}
  minRequests: 20
"""


def watch_live_traffic(
    repo: ConfigRepository, audit: AuditLog, url: str, features: list[str], step: Any
) -> bool:
    """Steps 16–20; True if the alert behaved as it should."""
    import pandas as pd  # only the demo needs it here

    from alignops.monitor import Monitor
    from alignops.testing.http_capture import HttpCapture

    directory = repo.root
    step("16. watch live traffic: an alert route, an early-warning drift rule, 10 s windows")
    (directory / "alerts").mkdir(exist_ok=True)
    (directory / "alerts" / "routes.yaml").write_text(ROUTE)
    (directory / "alerts" / "drift-early-warning.yaml").write_text(RULE)
    config = directory / "alignops.yaml"
    config.write_text(config.read_text() + MONITORING)
    revision = repo.commit_all("Watch employment-fair's live traffic: alert route and rule")
    console.print(
        f"  committed {revision[:12]}: alerts/routes.yaml, alerts/drift-early-warning.yaml"
    )

    with HttpCapture() as slack:
        os.environ[SLACK_ENV] = slack.url + SLACK_PATH
        monitor = Monitor(
            repo,
            database=audit.db,
            audit=audit,
            environments=("production",),
            settle=timedelta(seconds=SETTLE_SECONDS),
        )
        monitor.tick()  # the windows of earlier requests are judged (too few of them)
        step("17. replay the 2016, 2017 and 2018 surveys, one window each")
        series = []
        for year in ("2016", "2017", "2018"):
            frame = pd.read_parquet(directory / "data" / f"production-{year}.parquet")
            series.append(_replay(monitor, url, frame[features], year, slack))
        step("18. the alert, as the Slack server received it")
        firing = [json.loads(r.body) for r in slack.requests if r.path == SLACK_PATH]
        if firing:
            _show_slack(firing[0])
        step("19. remediation: a retraining request committed on a branch")
        retrain = _show_retraining(repo, monitor)
        step("20. replay the 2015 reference data: the drift ends, one resolve notice")
        frame = pd.read_parquet(directory / "data" / "reference-2015.parquet")
        series.append(_replay(monitor, url, frame[features], "2015 (reference)", slack))
        messages = [json.loads(r.body) for r in slack.requests if r.path == SLACK_PATH]
        resolved = [m for m in messages if "Resolved:" in m.get("text", "")]
        console.print(
            f"  Slack received {len(messages)} messages: {len(messages) - len(resolved)} while "
            f"the drift lasted (one per window), {len(resolved)} resolve notice"
        )
        if resolved:
            console.print(f"  last: {resolved[-1]['text']}", soft_wrap=True)
        alerts = monitor.alerts.find(state=None)
        for alert in alerts:
            console.print(
                f"  alert #{alert.id} {alert.state}: {alert.summary}",
                soft_wrap=True,
                markup=False,
            )
        os.environ.pop(SLACK_ENV, None)
    fired = [s for s in series if s["alerting"]]
    return (
        [s["year"] for s in fired] == ["2017", "2018"]
        and len(messages) == 3
        and len(resolved) == 1
        and retrain
    )


def _replay(monitor: Any, url: str, frame: Any, label: str, slack: Any) -> dict[str, Any]:
    """Send ``frame`` to the model inside one window, wait until the window is judged,
    tick the monitor; print and return the window's drift."""
    import httpx

    now = time.time()
    start = (int(now) // WINDOW_SECONDS + 1) * WINDOW_SECONDS
    time.sleep(max(0.0, start - now + 0.2))  # the start of the next window
    rows = frame.to_dict("records")
    batches = [rows[i : i + BATCH_ROWS] for i in range(0, len(rows), BATCH_ROWS)]
    with httpx.Client(timeout=60) as client, ThreadPoolExecutor(CLIENTS) as pool:

        def post(batch: list[dict[str, Any]]) -> None:
            client.post(f"{url}/predict", json={"rows": batch}).raise_for_status()

        list(pool.map(post, batches))
    sent = len(batches)
    if time.time() > start + WINDOW_SECONDS:
        console.print(f"  [yellow]{label}: the replay took longer than one window[/]")
    time.sleep(max(0.0, start + WINDOW_SECONDS + SETTLE_SECONDS + 0.5 - time.time()))
    before = len(slack.requests)
    report = monitor.tick()
    window = _latest_window(monitor)
    psi = window.get("maxPsi") or {}
    alerting = bool(report.opened or report.updated)
    console.print(
        f"  {label:17} {len(rows):6,} people in {sent:3} requests · max PSI "
        f"{psi.get('value', 0):.4f} ({psi.get('feature', '-')}) · "
        + ("[bold red]alert[/]" if alerting else "[green]ok[/]")
        + (" · resolved" if report.resolved else "")
        + f" · Slack messages {len(slack.requests) - before}",
        soft_wrap=True,
    )
    for problem in report.problems:
        console.print(f"  [yellow]{problem}[/]", soft_wrap=True)
    return {"year": label, "psi": psi, "alerting": alerting}


def _latest_window(monitor: Any) -> dict[str, Any]:
    status = monitor.status(windows=2, update=False)
    for environment in status.get("environments", []):
        for deployment in environment.get("deployments", []):
            if deployment.get("deployment") != "employment-fair":
                continue
            judged = [w for w in deployment.get("windows", []) if w.get("state") == "judged"]
            if judged:
                return dict(judged[-1])
    return {}


def _show_slack(message: dict[str, Any]) -> None:
    text = json.dumps(message, indent=2)
    lines = text.splitlines()
    for line in lines[:40]:
        console.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)
    if len(lines) > 40:
        console.print(f"  … {len(lines) - 40} more lines")


def _show_retraining(repo: ConfigRepository, monitor: Any) -> bool:
    for alert in monitor.alerts.find(state=None):
        outcome = alert.remediation or {}
        branch = outcome.get("branch")
        if not branch:
            continue
        console.print(
            f"  alert #{alert.id}: {outcome.get('status')} — branch {branch}, commit "
            f"{str(outcome.get('commit'))[:12]}",
            soft_wrap=True,
        )
        for path in outcome.get("files", []):
            text = repo.read_ref_file(f"refs/heads/{branch}", path) or b""
            console.print(f"  {path}:")
            for line in text.decode().splitlines()[:14]:
                console.print(f"    {line}", soft_wrap=True, markup=False, highlight=False)
        return outcome.get("status") == "done"
    console.print("  [red]no remediation was recorded[/]")
    return False
