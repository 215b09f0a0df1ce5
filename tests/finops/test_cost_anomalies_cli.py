"""``alignops cost anomalies`` and ``anomaly-feedback`` on a config repository's ledger."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal

import typer
from typer.testing import CliRunner

from alignops.audit import AuditLog
from alignops.cli.cost_anomalies import register
from alignops.finops.ledger import Ledger
from alignops.store import Database

from ..conftest import Repo, Run
from .test_budgets import insert_charges
from .test_cost_anomalies import SPIKE_DAY, seasonal_rows


def run(*args: str) -> Run:
    app = typer.Typer()

    @app.callback()
    def cost() -> None:
        """The ``alignops cost`` group, as the CLI builds it."""

    register(app)
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, color=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def test_list_give_feedback_and_list_again(repo: Repo) -> None:
    spikes = {("risk", SPIKE_DAY): ("Amazon Bedrock", Decimal("300"))}
    with Ledger.of_repository(repo.path, None).connect() as con:
        insert_charges(con, seasonal_rows(spikes=spikes))
    where = ["--today", "2026-04-30", "-C", str(repo.path)]

    listed = run("anomalies", "-d", "team", "--since", "2026-04-01", "-o", "json", *where)
    assert listed.exit_code == 0, listed.stderr
    (anomaly,) = json.loads(listed.stdout)["anomalies"]
    assert (anomaly["dimension"], anomaly["value"], anomaly["day"]) == (
        "team",
        "risk",
        "2026-04-14",
    )
    assert anomaly["rootCauses"][0]["dimension"] == "service"
    assert anomaly["rootCauses"][0]["value"] == "Amazon Bedrock"
    assert Decimal(anomaly["impact"]) == Decimal(anomaly["actual"]) - Decimal(anomaly["expected"])

    text = run("anomalies", "-d", "team", "--since", "2026-04-01", *where)
    assert text.exit_code == 0, text.stderr
    assert "team=risk" in text.stdout
    assert "2026-04-14 team=risk: " in text.stdout
    assert "expected; service=Amazon Bedrock" in text.stdout

    wrong = run("anomaly-feedback", "team", "risk", "2026-04-15", "no", *where)
    assert wrong.exit_code == 2
    assert "no cost anomaly of team=risk on 2026-04-15" in wrong.stderr

    given = run(
        "anomaly-feedback", "team", "risk", "2026-04-14", "planned", "--note", "load test", *where
    )
    assert given.exit_code == 0, given.stderr
    assert "planned recorded for the team=risk anomaly of 2026-04-14" in given.stdout
    assert "its repeats up to 2026-05-12 are suppressed" in given.stdout

    hidden = run("anomalies", "-d", "team", "--since", "2026-04-01", *where)
    assert "no cost anomaly since 2026-04-01" in hidden.stdout
    assert "1 suppressed by feedback (--all lists them)" in hidden.stdout
    shown = run("anomalies", "-d", "team", "--since", "2026-04-01", "--all", "-o", "json", *where)
    (suppressed,) = json.loads(shown.stdout)["anomalies"]
    assert suppressed["suppressed"] is True
    assert suppressed["feedback"]["verdict"] == "planned"
    assert suppressed["feedback"]["note"] == "load test"

    audit = AuditLog(Database(os.environ["ALIGNOPS_DATABASE_URL"]))
    (record,) = audit.records(action="cost.anomaly.feedback")
    assert record.subject == "team=risk"
    assert record.data["verdict"] == "planned"
    audit.db.close()


def test_bad_input_is_exit_2(repo: Repo) -> None:
    with Ledger.of_repository(repo.path, None).connect() as con:
        insert_charges(con, seasonal_rows()[:12])
    where = ["-C", str(repo.path)]
    assert "unknown dimension 'teams'" in run("anomalies", "-d", "teams", *where).stderr
    bad_since = run("anomalies", "--since", "yesterday", *where)
    assert bad_since.exit_code == 2 and "--since: expected a day" in bad_since.stderr
    bad_verdict = run("anomaly-feedback", "team", "risk", "2026-01-02", "maybe", *where)
    assert bad_verdict.exit_code == 2
    nothing = run("anomalies", "--today", str(date(2026, 1, 3)), *where)
    assert nothing.exit_code == 0 and "no cost anomaly since 2025-12-05" in nothing.stdout
