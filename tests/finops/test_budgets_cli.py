"""``alignops cost budgets`` on a scaffolded config repository: its own Budget and Slack
route, a real ledger file, a real Slack receiver; secrets never printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from alignops.cli.cost_budgets import register
from alignops.finops.ledger import Ledger
from alignops.testing.http_capture import HttpCapture

from ..conftest import Repo, Run
from .test_budgets import charge_rows, insert_charges

TOKEN = "xoxb-budget-s3cr3t-0001"


def cost_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def cost() -> None:
        """The ``alignops cost`` group, as the CLI builds it."""

    register(app)
    return app


def run(*args: str) -> Run:
    result = CliRunner().invoke(cost_app(), list(args), catch_exceptions=False, color=False)
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpCapture]:
    with HttpCapture() as server:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", server.url_for(f"/services/T00/B00/{TOKEN}"))
        yield server


def fill_ledger(repo: Repo, first: date, last: date) -> Ledger:
    """The repository's default ledger with the charges of ``first`` … ``last``."""
    ledger = Ledger.of_repository(repo.path, None)
    rows = []
    day = first
    while day <= last:
        rows += charge_rows(day)
        day += timedelta(days=1)
    with ledger.connect() as con:
        insert_charges(con, rows)
    return ledger


def no_secret(result: Run) -> None:
    assert TOKEN not in result.stdout and TOKEN not in result.stderr


def test_budgets_fire_once_and_print_a_table(repo: Repo, slack: HttpCapture) -> None:
    fill_ledger(repo, date(2026, 2, 1), date(2026, 3, 5))

    first = run("budgets", "--today", "2026-03-05", "-o", "json", "-C", str(repo.path))
    assert first.exit_code == 0, first.stderr
    no_secret(first)
    out = json.loads(first.stdout)
    (budget,) = out["budgets"]
    assert budget["budget"] == "ai-platform-monthly"  # the scaffold's own budget: 500 USD
    assert (budget["periodLabel"], budget["amount"]) == ("2026-03", "500")
    assert budget["actual"] == "215.250004000000000000"  # Sunday + four weekdays
    fired = [(t["basis"], t["percent"]) for t in budget["thresholds"] if t["firedNow"]]
    assert fired == [("forecast", 100.0)]
    assert out["dispatch"]["counts"]["sent"] == 1
    (message,) = slack.requests
    assert message.json()["channel"] == "#ai-ops-alerts"
    assert message.json()["text"].startswith(
        "[CRITICAL] Budget ai-platform-monthly: forecast to reach 100 % of 500.00 USD"
    )

    again = run("budgets", "--today", "2026-03-05", "-C", str(repo.path))
    assert again.exit_code == 0, again.stderr
    no_secret(again)
    assert "ai-platform-monthly" in again.stdout
    assert "f100" in again.stdout and "f100*" not in again.stdout
    assert "forecast 100 % fired" in again.stdout
    assert "not counted: 37.50 EUR billed in EUR" in again.stdout
    assert len(slack.requests) == 1

    fill_ledger(repo, date(2026, 3, 6), date(2026, 3, 12))
    later = run("budgets", "--today", "2026-03-12", "-C", str(repo.path))
    assert later.exit_code == 0, later.stderr
    no_secret(later)
    assert "50* 80* f100" in later.stdout
    assert "notifications: 2 sent" in later.stdout
    titles = [r.json()["text"] for r in slack.requests]
    assert [t.split(":")[1].strip().split(" of ")[0] for t in titles[1:]] == ["50 %", "80 %"]

    state = Path(str(repo.path)) / ".alignops"
    assert all(
        TOKEN not in p.read_bytes().decode("latin-1") for p in state.rglob("*") if p.is_file()
    )


def test_a_wrong_scope_key_names_file_line_and_field_and_changes_nothing(
    repo: Repo, slack: HttpCapture
) -> None:
    ledger = fill_ledger(repo, date(2026, 3, 1), date(2026, 3, 20))
    budgets = repo.path / "finops" / "budgets.yaml"
    budgets.write_text(budgets.read_text().replace("team: ai-platform", "teem: ai-platform"))
    repo.commit("a typo in the budget scope")

    result = run("budgets", "--today", "2026-03-20", "-C", str(repo.path))

    assert result.exit_code == 2
    assert "finops/budgets.yaml:11: spec.scope.tags.teem" in result.stderr
    assert "Input should be 'model', 'team', 'env', 'activity' or 'cost_center'" in result.stderr
    with ledger.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM budget_events").fetchone() == (0,)
    assert slack.requests == []


def test_bad_options_and_a_missing_ledger_are_input_errors(repo: Repo) -> None:
    bad_day = run("budgets", "--today", "20 March", "-C", str(repo.path))
    assert bad_day.exit_code == 2
    assert "--today: expected a day as YYYY-MM-DD, got '20 March'" in bad_day.stderr

    missing = run("budgets", "-o", "json", "-C", str(repo.path))
    assert missing.exit_code == 2
    error = json.loads(missing.stdout)
    assert error["error"] == "UsageError"
    assert "no cost ledger at" in error["message"]
    assert not (repo.path / ".alignops" / "ledger.duckdb").exists()
