"""root_cause names the dimension values that moved a total, with money that adds up."""

from __future__ import annotations

import itertools
from decimal import Decimal, Inexact, localcontext
from typing import Any

import numpy as np
import pytest

from alignops.anomaly import root_cause
from alignops.errors import InputError

SERVICES = ("inference", "training", "storage", "evidence")
REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")
ACCOUNTS = ("prod", "staging")


def day_of_costs(
    rng: np.random.Generator, day: int, *, extra: dict[tuple[str, str], Decimal] | None = None
) -> list[dict[str, Any]]:
    """One cost row per service × region × account, to the cent, with ±10 % noise."""
    rows = []
    for service, region, account in itertools.product(SERVICES, REGIONS, ACCOUNTS):
        base = 40 + 30 * SERVICES.index(service) + 10 * REGIONS.index(region)
        cost = Decimal(round(base * rng.uniform(0.9, 1.1), 2)).quantize(Decimal("0.01"))
        if account == "prod" and extra:
            cost += extra.get((service, region), Decimal(0))
        rows.append(
            {"day": day, "service": service, "region": region, "account": account, "cost": cost}
        )
    return rows


def test_the_injected_culprit_ranks_first_in_every_dimension() -> None:
    rng = np.random.default_rng(1)
    baseline = [row for day in range(7) for row in day_of_costs(rng, day)]
    today = day_of_costs(rng, 7, extra={("training", "us-east-1"): Decimal("900.00")})
    cause = root_cause(
        today,
        dimensions=["service", "region", "account"],
        value="cost",
        baseline_rows=baseline,
        period="day",
    )
    firsts = {c.dimension: c.key for c in cause.top}
    assert firsts == {"service": "training", "region": "us-east-1", "account": "prod"}
    culprit = cause.dimensions["service"][0]
    assert 0.85 < culprit.share < 1.15  # ±10 % noise on ~2,100 a day moves the rest a little
    assert culprit.delta > Decimal("800")
    assert cause.top[0].share == max(c.share or 0 for c in cause.top)


def test_contributions_add_up_to_the_change_exactly() -> None:
    rng = np.random.default_rng(2)
    baseline = [row for day in range(4) for row in day_of_costs(rng, day)]
    today = day_of_costs(rng, 4, extra={("storage", "eu-west-1"): Decimal("123.45")})
    with localcontext() as context:  # the ledger's own context: no rounding allowed
        context.traps[Inexact] = True
        cause = root_cause(
            today,
            dimensions=["service", "region"],
            value="cost",
            baseline_rows=baseline,
            period="day",
        )
    assert isinstance(cause.delta, Decimal)
    assert cause.current == sum(row["cost"] for row in today)
    assert cause.baseline == sum(row["cost"] for row in baseline) / 4
    for ranked in cause.dimensions.values():
        assert sum(c.delta for c in ranked) == cause.delta
        assert sum(c.current for c in ranked) == cause.current
        assert sum(c.share or 0 for c in ranked) == pytest.approx(1.0)
    assert cause.percent == pytest.approx(float(cause.delta / cause.baseline * 100))


def test_a_fall_ranks_the_biggest_decrease_first() -> None:
    baseline = [
        {"service": "a", "cost": 100.0},
        {"service": "b", "cost": 50.0},
        {"service": "c", "cost": 10.0},
    ]
    today = [
        {"service": "a", "cost": 95.0},
        {"service": "b", "cost": 5.0},
        {"service": "c", "cost": 20.0},
    ]
    cause = root_cause(today, dimensions=["service"], value="cost", baseline_rows=baseline)
    assert isinstance(cause.delta, float)
    assert cause.delta == pytest.approx(-40.0)
    assert [c.key for c in cause.dimensions["service"]] == ["b", "a", "c"]
    b, a, c = cause.dimensions["service"]
    assert a.share == pytest.approx(5 / 40)
    assert b.share == pytest.approx(45 / 40) and c.share == pytest.approx(-10 / 40)
    assert b.percent == pytest.approx(-90.0)


def test_new_and_vanished_values_and_untagged_rows() -> None:
    baseline = [{"team": "a", "cost": 10}, {"team": "gone", "cost": 5}, {"cost": 1}]
    today = [{"team": "a", "cost": 10}, {"team": "new", "cost": 30}, {"team": None, "cost": 4}]
    cause = root_cause(today, dimensions=["team"], value="cost", baseline_rows=baseline)
    ranked = {c.key: c for c in cause.dimensions["team"]}
    assert set(ranked) == {"a", "gone", "new", None}
    assert ranked["new"].percent is None and ranked["new"].delta == 30
    assert ranked[None].current == 4 and ranked[None].baseline == 1  # missing and None alike
    assert ranked["gone"].current == 0 and ranked["gone"].percent == -100.0
    assert cause.dimensions["team"][0].key == "new"
    assert isinstance(cause.delta, Decimal)  # ints are exact


def test_structured_arrays_give_the_same_answer_as_dicts() -> None:
    rng = np.random.default_rng(3)
    dtype = [("day", "i4"), ("service", "U12"), ("region", "U12"), ("cost", "f8")]

    def records(rows: list[dict[str, Any]]) -> np.ndarray:
        return np.array(
            [(r["day"], r["service"], r["region"], float(r["cost"])) for r in rows], dtype=dtype
        )

    baseline = [row for day in range(3) for row in day_of_costs(rng, day)]
    today = day_of_costs(rng, 3, extra={("evidence", "ap-south-1"): Decimal("250")})
    floats = [{**row, "cost": float(row["cost"])} for row in today]
    base_floats = [{**row, "cost": float(row["cost"])} for row in baseline]
    options: dict[str, Any] = {
        "dimensions": ["service", "region"],
        "value": "cost",
        "period": "day",
    }
    from_dicts = root_cause(floats, baseline_rows=base_floats, **options)
    from_records = root_cause(records(today), baseline_rows=records(baseline), **options)
    assert from_records == from_dicts
    assert from_records.dimensions["service"][0].key == "evidence"


def test_unchanged_total_has_no_shares() -> None:
    rows = [{"service": "a", "cost": 1.0}, {"service": "b", "cost": 2.0}]
    swapped = [{"service": "a", "cost": 2.0}, {"service": "b", "cost": 1.0}]
    cause = root_cause(swapped, dimensions=["service"], value="cost", baseline_rows=rows)
    assert cause.delta == 0 and cause.percent == 0
    assert all(c.share is None for c in cause.dimensions["service"])
    assert [c.key for c in cause.dimensions["service"]] == ["a", "b"]  # |delta|, then name


@pytest.mark.parametrize(
    ("rows", "baseline", "options", "message"),
    [
        ([{"s": "a"}], [], {}, r"rows\[0\]: cost: missing"),
        (
            [{"s": "a", "cost": 1}],
            [{"s": "a", "cost": "x"}],
            {},
            r"baseline_rows\[0\]: cost: expected a finite number, got 'x'",
        ),
        (
            [{"s": "a", "cost": float("nan")}],
            [],
            {},
            r"rows\[0\]: cost: expected a finite number, got nan",
        ),
        (
            [{"s": "a", "cost": 1}],
            [{"s": "a", "cost": 1}],
            {"dimensions": ["region"]},
            "no row has a column 'region'",
        ),
        (
            [{"s": "a", "cost": 1}],
            [{"s": "a", "cost": 1}],
            {"period": "day"},
            r"baseline_rows\[0\]: day: missing",
        ),
        ([{"s": "a", "cost": 1}], [], {"dimensions": "s"}, "dimensions: expected a non-empty list"),
        ([("a", 1)], [], {}, "expected rows as mappings or structured records"),
    ],
)
def test_bad_rows_are_named(
    rows: list[Any], baseline: list[Any], options: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"dimensions": ["s"], "value": "cost", **options}
    with pytest.raises(InputError, match=message):
        root_cause(rows, baseline_rows=baseline, **arguments)
