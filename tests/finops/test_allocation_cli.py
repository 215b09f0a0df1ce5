"""``alignops cost report`` on a scaffolded config repository: the FOCUS sample in its
ledger, own usage from its state database, rules from its alignops.yaml."""

from __future__ import annotations

import json
import os
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from alignops.cli.cost_report import register
from alignops.finops.ingest import ingest_paths
from alignops.finops.ledger import Ledger
from alignops.manifests.config import FinopsSettings
from alignops.store import Database, default_database_url

from ..conftest import Repo, Run
from .test_own_usage import evidence, meter_hour

RULES = """\
finops:
  governedTags:
    model: [application]
  allocation:
    - dimension: team
      untagged: proportional
"""


def cost_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def cost() -> None:
        """The ``alignops cost`` group, as the CLI builds it."""

    register(app)
    return app


def run(repo: Repo, *args: str) -> Run:
    result = CliRunner().invoke(
        cost_app(), ["report", *args, "-C", str(repo.path)], catch_exceptions=False, color=False
    )
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def world(repo: Repo, focus_sample: Path) -> Repo:
    """The scaffold with allocation rules and prices in EUR (CPU-second 0.002), the FOCUS
    sample in its ledger, an hour of fraud-v1 serving (EUR 2.10) and two evidence jobs
    (150 CPU-seconds) in its state database."""
    config = repo.path / "alignops.yaml"
    text = config.read_text()
    assert "    currency: USD\n" in text and "cpuSecond: 0.000011" in text
    prices = text.replace("    currency: USD\n", "    currency: EUR\n")  # as the metering's
    config.write_text(prices.replace("cpuSecond: 0.000011", "cpuSecond: 0.002") + RULES)
    settings = FinopsSettings.model_validate({"governedTags": {"model": ["application"]}})
    ingest_paths(
        Ledger.of_repository(repo.path, None), [focus_sample], governed_tags=settings.governed_tags
    )
    database = Database(default_database_url(repo.path))
    try:
        meter_hour(database, requests=40, billed_ms=4000)
        evidence(
            database,
            ("fairness", "fairness-audit", 100.0, 5),
            ("explainability", "explainability", 50.0, 6),
        )
    finally:
        database.close()
    return repo


def sample_total(repo: Repo, metric: str = "EffectiveCost") -> dict[str, Decimal]:
    with Ledger.of_repository(repo.path, None).connect(read_only=True) as con:
        rows = con.execute(
            f"SELECT BillingCurrency, sum({metric}) FROM charges GROUP BY ALL"
        ).fetchall()
    return dict(rows)


def test_the_json_report_conserves_every_window_to_the_cent(world: Repo) -> None:
    result = run(world, "--by", "team,env", "--window", "total", "-o", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["by"], out["window"], out["metric"], out["engine"]) == (
        ["team", "env"],
        "total",
        "EffectiveCost",
        "duckdb",
    )
    assert out["rules"] == [
        {
            "dimension": "team",
            "sharedValues": [],
            "untagged": "proportional",
            "shared": "proportional",
            "split": {},
        }
    ]
    assert (out["ownUsage"]["runtimeRows"], out["ownUsage"]["evidenceRows"]) == (2, 2)
    expected = sample_total(world)  # the sample (USD) and own usage (EUR) together
    totals = {t["currency"]: t for t in out["totals"]}
    assert {c: Decimal(t["totalExact"]) for c, t in totals.items()} == expected
    for currency, total in totals.items():
        lines = [line for line in out["lines"] if line["currency"] == currency]
        cents = sum(Decimal(line["cost"]) for line in lines)
        assert cents == Decimal(total["total"])
        assert Decimal(total["allocated"]) + Decimal(total["unallocated"]) == cents
        assert Decimal(total["total"]) == expected[currency].quantize(
            Decimal("0.01"), ROUND_HALF_EVEN
        )
        assert sum(Decimal(line["costExact"]) for line in lines) == expected[currency]
    # every untagged team was split: what stays unallocated has a team but no env
    assert all(line["values"]["team"] for line in out["lines"])
    assert any(line["values"]["env"] is None for line in out["lines"] if not line["allocated"])


def test_the_table_shows_windows_unallocated_and_total(world: Repo) -> None:
    result = run(world, "--by", "team", "--from", "2024-09-01", "--to", "2024-10-01")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:1] == ["2024-09"] for line in lines)
    (total,) = [line for line in lines if line.split()[:1] == ["total"]]
    assert total.split()[1:] == ["13.00", "USD"]  # the sample's EffectiveCost: 16 − 3 credit
    (unallocated,) = [line for line in lines if line.split()[:1] == ["unallocated"]]
    assert unallocated.split()[1:3] == ["0.00", "USD"]
    assert "rule team: untagged split proportional" in result.stdout
    assert "lines of zero cost not shown" in result.stdout
    assert "2026" not in result.stdout  # own usage is outside --from/--to
    assert "own usage in the ledger: 2 serving and 2 evidence rows" in result.stderr


def test_the_responsible_ai_view_shares_each_activity_of_the_model(world: Repo) -> None:
    result = run(world, "--view", "responsible-ai", "--from", "2026-11-01", "-o", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["by"] == ["model", "activity"]
    by_currency = {m["currency"]: m for m in out["responsibleAi"] if m["model"] == "fraud-v1"}
    eur = by_currency["EUR"]  # serving 2.1 and evidence 150 CPU-s × 0.002 in EUR
    assert eur["totalExact"] == "2.4"
    activities = eur["activities"]
    assert activities["fairness-audit"]["costExact"] == "0.2"
    assert activities["explainability"]["costExact"] == "0.1"
    assert activities["fairness-audit"]["share"] == f"{Decimal('0.2') / Decimal('2.4'):.6f}"
    assert activities["responsible-ai"]["cost"] == "0.30"
    assert activities["drift-monitoring"] == {"cost": "0.00", "costExact": "0", "share": "0.000000"}
    text = run(world, "--view", "responsible-ai", "--from", "2026-11-01").stdout.splitlines()
    (fairness,) = [line.split() for line in text if "fairness-audit" in line]
    assert fairness[-4:] == ["0.20", "EUR", "8.3", "%"]
    (model,) = [line.split() for line in text if "fraud-v1" in line]
    assert model == ["2026-11", "fraud-v1", "explainability", "0.10", "EUR", "4.2", "%"]
    assert "drift-monitoring" not in "\n".join(text)  # it cost nothing


def test_a_bad_rule_names_its_line_and_nothing_is_synced(world: Repo) -> None:
    config = world.path / "alignops.yaml"
    config.write_text(
        config.read_text()
        + "    - dimension: env\n      untagged: fixed\n      split: {prod: 60, dev: 30}\n"
    )
    line = config.read_text().splitlines().index("      split: {prod: 60, dev: 30}") + 1
    result = run(world, "--by", "env")
    assert result.exit_code == 2
    assert (
        f"alignops.yaml:{line}: finops.allocation[1].split: percentages sum to 90, not 100"
        in result.stderr
    )
    with Ledger.of_repository(world.path, None).connect(read_only=True) as con:
        own = con.execute("SELECT count(*) FROM charges WHERE x_Source <> 'focus'").fetchone()
    assert own == (0,)
    as_json = json.loads(run(world, "--by", "env", "-o", "json").stdout)
    assert as_json["error"] == "ManifestError"
    assert as_json["problems"][0]["line"] == line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "model,region"], "--by: unknown dimension 'region'"),
        (["--by", "team,team"], "--by names a dimension twice"),
        (["--by", ","], "name at least one dimension"),
        (["--from", "2024-13-01"], "--from: expected a day as YYYY-MM-DD"),
        (["--from", "2024-10-01", "--to", "2024-09-01"], "--to 2024-09-01 is not after --from"),
        (["--view", "responsible-ai", "--by", "team"], "leave out --by"),
    ],
)
def test_bad_options_exit_2_with_a_message(world: Repo, args: list[str], message: str) -> None:
    result = run(world, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    with Ledger.of_repository(world.path, None).connect(read_only=True) as con:
        own = con.execute("SELECT count(*) FROM charges WHERE x_Source <> 'focus'").fetchone()
    assert own == (0,)  # refused before anything was synced


def test_html_writes_the_page_of_the_same_ledger(world: Repo, tmp_path: Path) -> None:
    page = tmp_path / "cost.html"
    args = ["--by", "model", "--from", "2024-09-01", "--to", "2024-10-01", "--html", str(page)]
    result = run(world, *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["html"] == str(page)
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") or text.lstrip().lower().startswith("<!doctype")
    assert "13.00" in text  # the window's total, as the report gives it


def test_another_ledger_file_is_reported(world: Repo, tmp_path: Path) -> None:
    other = Ledger(tmp_path / "other.duckdb")
    with other.connect() as con:
        con.execute(
            "INSERT INTO charges (ChargePeriodStart, BillingCurrency, EffectiveCost, x_Team) "
            "VALUES ('2025-01-05 10:00', 'CHF', 12.5, 'risk')"
        )
    result = run(world, "--by", "team", "--ledger", str(other.path), "-o", "json")
    assert result.exit_code == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    assert out["ledger"] == str(other.path)
    chf = [t for t in out["totals"] if t["currency"] == "CHF"]
    assert chf == [
        {
            "windowStart": "2025-01-01",
            "windowEnd": "2025-02-01",
            "currency": "CHF",
            "allocated": "12.50",
            "unallocated": "0.00",
            "total": "12.50",
            "allocatedExact": "12.5",
            "unallocatedExact": "0",
            "totalExact": "12.5",
        }
    ]
    assert os.path.exists(other.path)
