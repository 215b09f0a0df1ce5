"""``alignops demo``, part 5: what it all costs, in one ledger.

The FinOps Foundation's FOCUS sample (a real AWS billing export, September 2024) is
ingested in three deliveries, as a month of daily exports would arrive, next to the
project's own metered usage (the evidence jobs of the gate, the served requests). A
budget on the `dev` environment is evaluated on every ingest as of the export's last
day; its thresholds reach a Slack incoming webhook — a local capture server — once each.
Then the allocation report (conserving the total to the cent), the responsible-AI view,
anomalies, a forecast to the end of October, and the HTML page.

Every step runs the real `alignops cost …` command in a new process, as a user would.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from alignops.cli.output import console
from alignops.source import ConfigRepository

__all__ = ["account_for_costs"]

SAMPLE = Path(__file__).resolve().parent.parent / "scaffold" / "billing"
SAMPLE_FILE = SAMPLE / "focus-1.0-sample-aws.csv"
SLACK_ENV = "ALIGNOPS_DEMO_SLACK_WEBHOOK_URL"
"""The same secret reference as part 4's route (set by the demo to a capture server)."""
SLACK_PATH = "/services/T0DEMO/B0DEMO/demo-webhook-secret"

DELIVERIES = (
    ("2024-09-01", "2024-09-15"),
    ("2024-09-16", "2024-09-22"),
    ("2024-09-23", "2024-09-30"),
)
"""Three exports of the sample month, by ChargePeriodStart day (inclusive)."""

FINOPS_SETTINGS = """
# The cost ledger: the sample bill tags applications and business units; its amortized
# EffectiveCost is mostly zero, so reports use what was billed.
finops:
  costMetric: BilledCost
  governedTags:
    model: [model, application]
    team: [team, business_unit]
"""

BUDGET = """\
# What the dev environment may spend in a month; thresholds on actual spend and on the
# forecast to the end of the month. Notified through the #ai-ops-alerts route.
apiVersion: alignops.dev/v1alpha1
kind: Budget
metadata:
  name: dev-monthly
spec:
  amount: 12
  currency: USD
  period: monthly
  scope:
    tags:
      env: dev
  thresholds:
    - percent: 50
    - percent: 80
    - percent: 100
    - percent: 100
      basis: forecast
  routes: [ai-ops-alerts]
"""


def account_for_costs(repo: ConfigRepository, step: Callable[[str], None]) -> bool:
    """Steps 21–26; True if the ledger, the budget and the report behaved as they should."""
    from alignops.testing.http_capture import HttpCapture

    directory = repo.root
    step("21. the cost ledger: settings, a budget for dev, the September 2024 bill in three parts")
    (directory / "finops").mkdir(exist_ok=True)
    (directory / "finops" / "budgets.yaml").write_text(BUDGET)
    config = directory / "alignops.yaml"
    config.write_text(config.read_text() + FINOPS_SETTINGS)
    revision = repo.commit_all("Account for costs: ledger settings and a dev budget")
    console.print(f"  committed {revision[:12]}: alignops.yaml (finops), finops/budgets.yaml")
    exports = _split_sample(directory / "billing")

    with HttpCapture() as slack:
        env = {**os.environ, SLACK_ENV: slack.url + SLACK_PATH}
        fired: list[int] = []
        for path, (_, last) in zip(exports, DELIVERIES, strict=True):
            before = len(slack.requests)
            _run(directory, env, "ingest", str(path.relative_to(directory)), "--today", last)
            fired.append(len(slack.requests) - before)
        step("22. ingest the same export again: nothing changes")
        last_day = DELIVERIES[-1][1]
        again = _run(directory, env, "ingest", "billing", "--today", last_day, "-o", "json")
        files = json.loads(again.stdout).get("files", []) if again.returncode == 0 else []
        for file in files:
            console.print(f"  {Path(file['path']).name}: {file['status']}", soft_wrap=True)
        messages = [json.loads(r.body) for r in slack.requests if r.path == SLACK_PATH]
        budget_messages = [m for m in messages if "dev-monthly" in json.dumps(m)]
        console.print(
            f"  Slack received {len(budget_messages)} budget messages "
            f"({', '.join(str(n) for n in fired)} per delivery, none on the repeat):"
        )
        for message in budget_messages:
            console.print(f"    {message.get('text', '')}", soft_wrap=True, markup=False)

    step("23. alignops cost report --by env --window month: allocated + unallocated = total")
    report = _run(
        directory,
        env,
        "report",
        "--by",
        "env",
        "--window",
        "month",
        "--from",
        "2024-09-01",
        "--to",
        "2024-10-01",
        show=True,
    )
    conserved = _conserved(
        _run(
            directory,
            env,
            "report",
            "--by",
            "env",
            "--window",
            "month",
            "--from",
            "2024-09-01",
            "--to",
            "2024-10-01",
            "-o",
            "json",
            show=False,
        ).stdout
    )
    step("24. the responsible-AI view: what the gate's evidence cost, per model")
    this_month = date.today().replace(day=1).isoformat()  # the gate ran today
    _run(directory, env, "report", "--view", "responsible-ai", "--from", this_month)
    step("25. anomalies and a forecast to the end of October")
    _run(directory, env, "anomalies", "--today", "2024-09-30", "--since", "2024-09-01")
    _run(
        directory, env, "forecast", "--by", "env", "--today", "2024-09-30", "--until", "2024-10-31"
    )
    step("26. alignops cost report --html: cost over time, budget burn-down, anomalies")
    page = directory / "cost-report.html"
    _run(
        directory,
        env,
        "report",
        "--by",
        "model,activity",
        "--html",
        str(page),
        "--today",
        "2024-09-30",
        show=False,
    )
    console.print(f"  wrote {page} ({page.stat().st_size // 1024} KiB) — open it in a browser")
    return (
        report.returncode == 0
        and conserved
        and sum(fired) == len(budget_messages) >= 3
        and len(files) == len(DELIVERIES)
        and all(f["status"] == "skipped" for f in files)
        and page.is_file()
    )


def _split_sample(folder: Path) -> list[Path]:
    """The sample as three exports by day, header on each, lines unchanged."""
    folder.mkdir(exist_ok=True)
    with open(SAMPLE_FILE, newline="", encoding="utf-8") as source:
        rows = list(csv.reader(source))
    header, body = rows[0], rows[1:]
    start = header.index("ChargePeriodStart")
    paths = []
    for first, last in DELIVERIES:
        path = folder / f"focus-aws-{first}-to-{last}.csv"
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(
                r
                for r in body
                if date.fromisoformat(first)
                <= date.fromisoformat(r[start][:10])
                <= date.fromisoformat(last)
            )
        paths.append(path)
    return paths


def _run(
    directory: Path, env: dict[str, str], *args: str, show: bool | None = None
) -> subprocess.CompletedProcess[str]:
    """``alignops cost ARGS`` in ``directory`` as a new process; its output shown unless
    it is JSON (``-o json``) or ``show`` is False."""
    quiet = show is False or (show is None and "json" in args)
    if not quiet:
        console.print(f"  [dim]$ alignops cost {' '.join(args)}[/]", soft_wrap=True)
    done = subprocess.run(
        [sys.executable, "-m", "alignops", "cost", *args],
        cwd=directory,
        env={**env, "COLUMNS": "110"},
        capture_output=True,
        text=True,
        check=False,
    )
    if not quiet:
        for line in done.stdout.rstrip().splitlines():
            console.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)
    if done.returncode != 0:
        console.print(f"  [red]exit {done.returncode}[/]: {done.stderr.strip()[-2000:]}")
    return done


def _conserved(text: str) -> bool:
    """Whether every window's allocated + unallocated equals its total, to the cent."""
    totals: list[dict[str, Any]] = json.loads(text).get("totals", [])
    ok = bool(totals)
    for t in totals:
        allocated, unallocated, total = (
            Decimal(t[k]) for k in ("allocated", "unallocated", "total")
        )
        ok = ok and allocated + unallocated == total
        console.print(
            f"  {t['windowStart']} … {t['windowEnd']}: allocated {allocated} + unallocated "
            f"{unallocated} = total {total} {t['currency']}"
            + (" ✓" if allocated + unallocated == total else " ✗"),
            soft_wrap=True,
        )
    return ok
