"""Allocation on a real DuckDB ledger: untagged and shared costs split by the rules,
windows, currencies, conservation to the cent, the responsible-AI view, rule errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest

from alignops.errors import ManifestError, UsageError
from alignops.finops.allocation import AllocationReport, allocate
from alignops.finops.allocation_responsible_ai import responsible_ai_view
from alignops.finops.allocation_rules import check_rules
from alignops.finops.engine import open_engine
from alignops.finops.ingest import ingest_paths
from alignops.finops.ledger import DIMENSION_COLUMNS, Ledger
from alignops.manifests.config import AllocationRule, FinopsSettings
from alignops.manifests.documents import parse_documents
from alignops.manifests.loader import load_config

SEPT = datetime(2024, 9, 2, 10)  # a Monday


def add_charges(ledger: Ledger, rows: Iterable[dict[str, Any]]) -> None:
    """Insert charges: ``cost`` (all three cost columns), ``at`` (ChargePeriodStart, an
    hour), ``currency`` (USD) and the dimensions by name (model, team, env, activity)."""
    records = []
    for row in rows:
        at = row.get("at", SEPT)
        cost = Decimal(str(row["cost"]))
        values = {
            "ChargePeriodStart": at,
            "ChargePeriodEnd": at.replace(minute=59),
            "BillingCurrency": row.get("currency", "USD"),
            "EffectiveCost": cost,
            "BilledCost": Decimal(str(row.get("billed", cost))),
            "ListCost": cost,
            "ChargeCategory": "Usage",
            "x_Source": "focus",
        }
        for dimension, column in DIMENSION_COLUMNS.items():
            values[column] = row.get(dimension)
        records.append(values)
    if not records:
        return
    names = ", ".join(f'"{k}"' for k in records[0])
    marks = ", ".join(["(" + ", ".join("?" for _ in records[0]) + ")"] * len(records))
    with ledger.connect() as con:
        con.execute(
            f"INSERT INTO charges ({names}) VALUES {marks}",
            [value for record in records for value in record.values()],
        )


def report(ledger: Ledger, by: Sequence[str], **options: Any) -> AllocationReport:
    with open_engine(ledger) as engine:
        return allocate(engine, by=by, **options)


def amounts(result: AllocationReport) -> dict[tuple[str | None, ...], Decimal]:
    return {line.values: line.amount for line in result.lines}


def cents(result: AllocationReport) -> dict[tuple[str | None, ...], Decimal]:
    return {line.values: line.cents for line in result.lines}


def rule(dimension: str, **fields: Any) -> AllocationRule:
    return AllocationRule.model_validate({"dimension": dimension, **fields})


def assert_conserved(result: AllocationReport) -> None:
    """In every window and currency: the lines' cents add up to the exact total rounded
    to the cent, and allocated + unallocated = total."""
    for total in result.totals:
        lines = [
            line
            for line in result.lines
            if (line.window, line.currency) == (total.window, total.currency)
        ]
        assert sum(line.amount for line in lines) == total.total
        assert sum(line.cents for line in lines) == total.total_cents
        assert total.total_cents == total.total.quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        assert total.allocated_cents + total.unallocated_cents == total.total_cents
        for line in lines:
            assert abs(line.cents - line.amount) < Decimal("0.01")


def test_untagged_costs_stay_unallocated_without_a_rule(ledger: Ledger) -> None:
    add_charges(ledger, [{"cost": 10, "model": "a"}, {"cost": 30, "model": "b"}, {"cost": 5}])
    result = report(ledger, ["model"])
    assert amounts(result) == {("b",): 30, ("a",): 10, (None,): 5}
    (total,) = result.totals
    assert (total.window, total.currency) == (date(2024, 9, 1), "USD")
    assert (total.allocated_cents, total.unallocated_cents, total.total_cents) == (40, 5, 45)
    assert [line.values for line in result.lines] == [("b",), ("a",), (None,)]
    assert_conserved(result)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"untagged": "proportional"}, {"a": Decimal("11.25"), "b": Decimal("33.75")}),
        ({"untagged": "even"}, {"a": Decimal("12.5"), "b": Decimal("32.5")}),
        ({"untagged": "fixed", "split": {"a": 60, "b": 40}}, {"a": Decimal(13), "b": 32}),
    ],
)
def test_untagged_costs_split_by_the_rule(
    ledger: Ledger, fields: dict[str, Any], expected: dict[str, Decimal]
) -> None:
    add_charges(ledger, [{"cost": 10, "model": "a"}, {"cost": 30, "model": "b"}, {"cost": 5}])
    result = report(ledger, ["model"], rules=[rule("model", **fields)])
    assert amounts(result) == {(k,): v for k, v in expected.items()}
    assert result.totals[0].unallocated_cents == 0
    direct = {line.values: line.direct for line in result.lines}
    assert direct == {("a",): 10, ("b",): 30}  # what was tagged; the rest came from the split
    assert_conserved(result)


def test_fixed_split_reaches_values_with_no_cost_in_the_window(ledger: Ledger) -> None:
    add_charges(ledger, [{"cost": 10, "team": "risk"}, {"cost": 20, "team": "platform"}])
    rules = [rule("team", sharedValues=["platform"], shared="fixed", split={"risk": 75, "ops": 25})]
    assert amounts(report(ledger, ["team"], rules=rules)) == {("risk",): 25, ("ops",): 5}


def test_shared_values_split_over_the_other_values(ledger: Ledger) -> None:
    add_charges(
        ledger,
        [
            {"cost": 30, "team": "risk"},
            {"cost": 10, "team": "growth"},
            {"cost": 8, "team": "shared"},
            {"cost": 4, "team": "platform"},
            {"cost": 2},
        ],
    )
    rules = [rule("team", sharedValues=["shared", "platform"])]
    result = report(ledger, ["team"], rules=rules)
    assert amounts(result) == {("risk",): 39, ("growth",): 13, (None,): 2}
    assert result.rules == tuple(rules)
    even = [rule("team", sharedValues=["shared", "platform"], shared="even")]
    assert amounts(report(ledger, ["team"], rules=even)) == {
        ("risk",): 36,
        ("growth",): 16,
        (None,): 2,
    }
    only_shared = [rule("team", sharedValues=["shared"], shared="even")]  # platform is a team
    assert cents(report(ledger, ["team"], rules=only_shared)) == {
        ("risk",): Decimal("32.66"),  # 32.666666666666666666: the smallest remainder
        ("growth",): Decimal("12.67"),  # 12.666666666666666667
        ("platform",): Decimal("6.67"),  # 6.666666666666666667
        (None,): 2,
    }


def test_a_split_stays_within_the_other_dimensions_values_then_uses_the_window(
    ledger: Ledger,
) -> None:
    add_charges(
        ledger,
        [
            {"cost": 10, "model": "m1", "team": "risk"},
            {"cost": 30, "model": "m1", "team": "growth"},
            {"cost": 8, "model": "m1", "team": "shared"},
            {"cost": 5, "model": "m2", "team": "growth"},
            {"cost": 6, "model": "m2", "team": "shared"},
            {"cost": 7, "model": "m3", "team": "shared"},  # m3 has no team of its own
        ],
    )
    rules = [rule("team", sharedValues=["shared"])]
    result = report(ledger, ["model", "team"], rules=rules)
    assert amounts(result) == {
        ("m1", "risk"): 12,  # 10 + 8 × 10/40
        ("m1", "growth"): 36,  # 30 + 8 × 30/40
        ("m2", "growth"): 11,  # all of m2's shared cost: growth is m2's only team
        # m3: the window's teams before the split, risk 10 and growth 35: 7 × 35/45, 7 × 10/45
        ("m3", "growth"): Decimal("5.444444444444444444"),
        ("m3", "risk"): Decimal("1.555555555555555556"),
    }
    assert_conserved(result)


def test_a_dimension_without_a_value_matches_any_value_there(ledger: Ledger) -> None:
    add_charges(
        ledger,
        [
            {"cost": 10, "model": "m1", "team": "risk", "env": "prod"},
            {"cost": 30, "model": "m2", "team": "risk", "env": "staging"},
            {"cost": 50, "model": "m3", "team": "growth", "env": "prod"},
            {"cost": 8, "team": "risk"},  # no model, no env: risk's models, in any env
        ],
    )
    result = report(ledger, ["model", "team", "env"], rules=[rule("model", untagged="even")])
    assert amounts(result) == {
        ("m3", "growth", "prod"): 50,
        ("m2", "risk", "staging"): 30,
        ("m1", "risk", "prod"): 10,
        ("m1", "risk", None): 4,  # the env it did not have stays empty: unallocated
        ("m2", "risk", None): 4,
    }
    assert result.totals[0].unallocated == 8


def test_rules_run_in_the_order_written(ledger: Ledger) -> None:
    add_charges(
        ledger,
        [
            {"cost": 10, "model": "a", "team": "risk"},
            {"cost": 30, "model": "b", "team": "growth"},
            {"cost": 12},  # neither model nor team
        ],
    )
    rules = [rule("model", untagged="even"), rule("team", untagged="proportional")]
    result = report(ledger, ["model", "team"], rules=rules)
    # model first: (a, —) 6 and (b, —) 6; then team within each model: a → risk, b → growth
    assert amounts(result) == {("a", "risk"): 16, ("b", "growth"): 36}
    assert [r.dimension for r in result.rules] == ["model", "team"]
    only_team = report(ledger, ["team"], rules=rules)  # the model rule does not apply
    assert amounts(only_team) == {("risk",): 13, ("growth",): 39}


def test_thirds_are_exact_and_conserved_to_the_cent(ledger: Ledger) -> None:
    add_charges(
        ledger,
        [
            {"cost": 1, "team": "a"},
            {"cost": 1, "team": "b"},
            {"cost": 1, "team": "c"},
            {"cost": 1, "team": "shared"},
        ],
    )
    result = report(ledger, ["team"], rules=[rule("team", sharedValues=["shared"])])
    assert sorted(line.amount for line in result.lines) == [
        Decimal("1.333333333333333333"),
        Decimal("1.333333333333333333"),
        Decimal("1.333333333333333334"),
    ]
    assert sorted(cents(result).values()) == [Decimal("1.33"), Decimal("1.33"), Decimal("1.34")]
    assert result.totals[0].total_cents == 4
    assert_conserved(result)


def test_every_line_rounded_and_the_window_still_adds_up(ledger: Ledger) -> None:
    add_charges(ledger, [{"cost": "0.004", "model": f"m{i}"} for i in range(10)])
    result = report(ledger, ["model"])
    # each line is 0.004 → 0.00 alone; the total 0.04 is kept by the largest remainders
    assert sorted(cents(result).values()) == [0] * 6 + [Decimal("0.01")] * 4
    assert result.totals[0].total_cents == Decimal("0.04")
    assert_conserved(result)


def test_windows_days_weeks_months_and_the_date_range(ledger: Ledger) -> None:
    add_charges(
        ledger,
        [
            {"cost": 1, "model": "a", "at": datetime(2024, 8, 31, 23)},  # a Saturday
            {"cost": 2, "model": "a", "at": datetime(2024, 9, 1, 0)},  # Sunday
            {"cost": 4, "model": "a", "at": datetime(2024, 9, 2, 0)},  # Monday
            {"cost": 8, "model": "a", "at": datetime(2024, 10, 1, 5)},
        ],
    )

    def windows(result: AllocationReport) -> dict[date | None, Decimal]:
        return {t.window: t.total for t in result.totals}

    assert windows(report(ledger, ["model"], window="month")) == {
        date(2024, 8, 1): 1,
        date(2024, 9, 1): 6,
        date(2024, 10, 1): 8,
    }
    assert windows(report(ledger, ["model"], window="week")) == {
        date(2024, 8, 26): 3,
        date(2024, 9, 2): 4,
        date(2024, 9, 30): 8,
    }
    assert windows(report(ledger, ["model"], window="day")) == {
        date(2024, 8, 31): 1,
        date(2024, 9, 1): 2,
        date(2024, 9, 2): 4,
        date(2024, 10, 1): 8,
    }
    ranged = report(
        ledger, ["model"], window="total", start=date(2024, 9, 1), end=date(2024, 10, 1)
    )
    assert windows(ranged) == {date(2024, 9, 1): 6}  # [from, to): the 1st of October is out
    assert ranged.window_end(date(2024, 9, 1)) == date(2024, 10, 1)
    month = report(ledger, ["model"])
    assert month.window_end(date(2024, 12, 1)) == date(2025, 1, 1)


def test_currencies_are_allocated_apart(ledger: Ledger) -> None:
    add_charges(
        ledger,
        [
            {"cost": 10, "team": "risk", "currency": "EUR"},
            {"cost": 10, "team": "growth"},
            {"cost": 4, "team": "shared", "currency": "EUR"},
            {"cost": 6, "team": "shared"},
        ],
    )
    result = report(ledger, ["team"], rules=[rule("team", sharedValues=["shared"])])
    assert {(line.currency, line.values): line.amount for line in result.lines} == {
        ("EUR", ("risk",)): 14,
        ("USD", ("growth",)): 16,
    }


def test_the_cost_metric_is_chosen(ledger: Ledger) -> None:
    add_charges(ledger, [{"cost": 10, "billed": 12, "model": "a"}])
    assert amounts(report(ledger, ["model"], metric="BilledCost")) == {("a",): 12}
    with pytest.raises(UsageError, match="unknown cost metric"):
        report(ledger, ["model"], metric="Cost")


def test_bad_arguments_are_refused(ledger: Ledger) -> None:
    add_charges(ledger, [{"cost": 1}])
    with pytest.raises(UsageError, match="unknown dimension 'region'"):
        report(ledger, ["model", "region"])
    with pytest.raises(UsageError, match="twice"):
        report(ledger, ["model", "model"])
    with pytest.raises(UsageError, match="unknown window"):
        report(ledger, ["model"], window="year")


CONFIG = """\
version: 1
finops:
  allocation:
    - dimension: team
      sharedValues: [shared, platform]
      untagged: fixed
      split:
        risk: 60
        growth: 30
    - dimension: team
      untagged: even
    - dimension: model
      shared: fixed
      sharedValues: [common]
      split: {common: 50, fraud: 50}
"""


def test_rule_errors_name_the_file_line_and_field() -> None:
    config = load_config("alignops.yaml", CONFIG.encode())
    document = parse_documents("alignops.yaml", CONFIG.encode())[0]
    with pytest.raises(ManifestError) as caught:
        check_rules(config.finops.allocation, document=document)
    problems = {(p.line, p.field): p.message for p in caught.value.problems}
    assert problems == {
        (7, "finops.allocation[0].split"): "percentages sum to 90, not 100",
        (10, "finops.allocation[1].dimension"): (
            "a second rule for 'team' (the first is finops.allocation[0]); give one rule "
            "per dimension"
        ),
        (15, "finops.allocation[2].split.common"): (
            "'common' is one of sharedValues; shares go to the other values"
        ),
    }
    assert str(caught.value).splitlines()[1] == (
        "alignops.yaml:7: finops.allocation[0].split: percentages sum to 90, not 100"
    )
    missing = FinopsSettings.model_validate(
        {"allocation": [{"dimension": "env", "untagged": "fixed"}]}
    )
    with pytest.raises(ManifestError, match=r"allocation\[0\].split: required when untagged"):
        check_rules(missing.allocation)


def test_the_focus_sample_is_allocated_by_its_tags_to_the_cent(
    ledger: Ledger, focus_sample: Path
) -> None:
    settings = FinopsSettings.model_validate({"governedTags": {"model": ["application"]}})
    ingest_paths(ledger, [focus_sample], governed_tags=settings.governed_tags)
    with ledger.connect(read_only=True) as con:
        row = con.execute(
            "SELECT sum(BilledCost), count(*) FILTER (WHERE x_Team IS NULL) FROM charges"
        ).fetchone()
    assert row is not None
    billed, untagged_rows = row
    assert untagged_rows > 0  # the sample has rows without tags
    plain = report(ledger, ["model", "team", "env"], window="total", metric="BilledCost")
    (total,) = plain.totals
    assert total.total == billed
    assert total.unallocated_cents != 0
    assert_conserved(plain)
    rules = [
        rule("team", untagged="proportional"),
        rule("model", untagged="proportional"),
        rule("env", untagged="even"),
    ]
    for window in ("day", "week", "month", "total"):
        split = report(
            ledger, ["model", "team", "env"], window=window, metric="BilledCost", rules=rules
        )
        assert sum(t.total for t in split.totals) == billed
        assert all(t.unallocated_cents == 0 for t in split.totals)
        assert_conserved(split)


def test_the_responsible_ai_view_gives_each_activitys_share_of_the_model(
    ledger: Ledger,
) -> None:
    add_charges(
        ledger,
        [
            {"cost": 90, "model": "fraud", "activity": "serving"},
            {"cost": 5, "model": "fraud", "activity": "fairness-audit"},
            {"cost": 3, "model": "fraud", "activity": "explainability"},
            {"cost": 2, "model": "fraud"},  # a cloud charge tagged with the model only
            {"cost": 1, "model": "churn", "activity": "drift-monitoring"},
            {"cost": 7, "activity": "drift-monitoring"},  # no model: not in the view
        ],
    )
    view = responsible_ai_view(report(ledger, ["model", "activity"]))
    assert [(m.model, m.total) for m in view] == [("churn", 1), ("fraud", 100)]
    fraud = {a.activity: (a.amount, a.share) for a in view[1].activities}
    assert fraud == {
        "explainability": (3, Decimal("0.03")),
        "fairness-audit": (5, Decimal("0.05")),
        "drift-monitoring": (0, 0),
        "performance-evaluation": (0, 0),
    }
    assert (view[1].responsible_ai.amount, view[1].responsible_ai.share) == (8, Decimal("0.08"))
    assert view[0].activities[2].share == 1
    with pytest.raises(UsageError, match="by model and activity"):
        responsible_ai_view(report(ledger, ["model"]))
