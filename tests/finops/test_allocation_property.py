"""Properties of allocation on random ledgers and rules (hypothesis): money is conserved
exactly and to the cent in every window and currency, the result does not depend on
the rows' order, one-dimension splits equal an exact rational computation, and the
engine's answer equals a plain SQL sum."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alignops.finops.allocation import AggregateRow, AllocationReport, allocate_aggregate
from alignops.finops.ledger import Ledger
from alignops.manifests.config import AllocationRule
from tests.finops.test_allocation import add_charges, assert_conserved, report

DIMENSIONS = ("model", "team", "env")
VALUES = {
    "model": ["fraud", "churn", "common"],
    "team": ["risk", "growth", "shared", "platform"],
    "env": ["prod", "staging"],
}
WINDOWS = [date(2024, 9, 1), date(2024, 10, 1)]
CENT = Decimal("0.01")

amount = st.builds(
    lambda units: Decimal(units).scaleb(-18),
    st.integers(min_value=-(10**21), max_value=10**22),
)


@st.composite
def rules(draw: st.DrawFn, dimension: str) -> AllocationRule:
    values = VALUES[dimension]
    shared = draw(st.lists(st.sampled_from(values), unique=True, max_size=2))
    untagged = draw(st.sampled_from(["unallocated", "proportional", "even", "fixed"]))
    shared_method = draw(st.sampled_from(["proportional", "even", "fixed"]))
    split: dict[str, Decimal] = {}
    if "fixed" in (untagged, shared_method):
        targets = [v for v in values if v not in shared] or ["elsewhere"]
        cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=len(targets) - 1,
                                    max_size=len(targets) - 1)))  # fmt: skip
        bounds = [0, *cuts, 10_000]
        split = {t: Decimal(bounds[i + 1] - bounds[i]).scaleb(-2) for i, t in enumerate(targets)}
    return AllocationRule.model_validate(
        {
            "dimension": dimension,
            "sharedValues": shared,
            "untagged": untagged,
            "shared": shared_method,
            "split": split,
        }
    )


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[tuple[str, ...], list[AggregateRow], list[AllocationRule]]:
    by = tuple(draw(st.lists(st.sampled_from(DIMENSIONS), unique=True, min_size=1)))
    row = st.tuples(
        st.sampled_from(WINDOWS),
        st.tuples(*(st.sampled_from([None, *VALUES[d]]) for d in by)),
        st.sampled_from(["USD", "EUR"]),
        amount,
    )
    rows = draw(st.lists(row, min_size=1, max_size=40))
    ruled = draw(st.lists(st.sampled_from(DIMENSIONS), unique=True))
    return by, rows, [draw(rules(d)) for d in ruled]


def _inputs(rows: list[AggregateRow]) -> dict[tuple[date | None, str | None], Decimal]:
    sums: dict[tuple[date | None, str | None], Decimal] = defaultdict(Decimal)
    for when, _, currency, cost in rows:
        sums[(when, currency)] += cost
    return sums


@settings(max_examples=300, deadline=None)
@given(ledgers())
def test_money_is_conserved_exactly_and_to_the_cent(
    case: tuple[tuple[str, ...], list[AggregateRow], list[AllocationRule]],
) -> None:
    by, rows, rule_list = case
    result = allocate_aggregate(rows, by=by, rules=rule_list)
    assert_conserved(result)
    expected = _inputs(rows)
    assert {(t.window, t.currency): t.total for t in result.totals} == expected
    for total in result.totals:
        assert total.total_cents == expected[(total.window, total.currency)].quantize(
            CENT, ROUND_HALF_EVEN
        )
    for line in result.lines:  # a line that kept a shared value found nothing to go to
        for rule in result.rules:
            value = line.values[by.index(rule.dimension)]
            assert not (rule.shared == "fixed" and value in rule.shared_values)
            if rule.untagged == "fixed":
                assert value is not None


@settings(max_examples=100, deadline=None)
@given(ledgers(), st.randoms(use_true_random=False))
def test_the_rows_order_does_not_matter(
    case: tuple[tuple[str, ...], list[AggregateRow], list[AllocationRule]], rng: random.Random
) -> None:
    by, rows, rule_list = case
    shuffled = list(rows)
    rng.shuffle(shuffled)
    assert allocate_aggregate(shuffled, by=by, rules=rule_list) == allocate_aggregate(
        rows, by=by, rules=rule_list
    )


def _rational(
    rows: list[AggregateRow], rule: AllocationRule
) -> dict[tuple[date | None, str | None, str | None], Fraction]:
    """One dimension: the split computed with exact fractions, written independently."""
    out: dict[tuple[date | None, str | None, str | None], Fraction] = defaultdict(Fraction)
    groups: dict[tuple[date | None, str | None], dict[str | None, Fraction]] = defaultdict(
        lambda: defaultdict(Fraction)
    )
    for when, (value,), currency, cost in rows:
        groups[(when, currency)][value] += Fraction(cost)
    for (when, currency), costs in groups.items():
        tagged = {v: c for v, c in costs.items() if v is not None and v not in rule.shared_values}
        for value, cost in tagged.items():
            out[(when, currency, value)] += cost
        for value, cost in costs.items():
            if value is None and rule.untagged == "unallocated":
                out[(when, currency, None)] += cost
                continue
            if value is not None and value not in rule.shared_values:
                continue
            method = rule.untagged if value is None else rule.shared
            if method == "fixed":
                weights = {k: Fraction(v) for k, v in rule.split.items()}
            elif method == "proportional" and any(c > 0 for c in tagged.values()):
                weights = {k: max(c, Fraction(0)) for k, c in tagged.items()}
            else:
                weights = {k: Fraction(1) for k in tagged}
            total = sum(weights.values(), Fraction(0))
            if not total:
                out[(when, currency, value)] += cost
                continue
            for target, weight in weights.items():
                out[(when, currency, target)] += cost * weight / total
    return out


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_one_dimension_splits_equal_exact_fractions(data: st.DataObject) -> None:
    rule = data.draw(rules("team"))
    row = st.tuples(
        st.sampled_from(WINDOWS),
        st.tuples(st.sampled_from([None, *VALUES["team"]])),
        st.sampled_from(["USD", "EUR"]),
        amount,
    )
    rows = data.draw(st.lists(row, min_size=1, max_size=30))
    result = allocate_aggregate(rows, by=("team",), rules=[rule])
    expected = _rational(rows, rule)
    got = {(line.window, line.currency, line.values[0]): line.amount for line in result.lines}
    for key in set(got) | set(expected):
        # each split rounds its parts at the 18th decimal: at most one unit per split off
        error = abs(Fraction(got.get(key, Decimal(0))) - expected.get(key, Fraction(0)))
        assert error <= Fraction(len(rows), 10**18)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "cost": st.decimals(-1000, 100_000, places=10, allow_nan=False),
                "model": st.sampled_from([None, *VALUES["model"]]),
                "team": st.sampled_from([None, *VALUES["team"]]),
                "at": st.sampled_from([datetime(2024, 9, 30, 23), datetime(2024, 10, 1, 0)]),
            }
        ),
        min_size=1,
        max_size=25,
    ),
    rules("team"),
)
def test_the_engine_sums_what_sql_sums(
    tmp_path_factory: Any, charges: list[dict[str, Any]], rule: AllocationRule
) -> None:
    ledger = Ledger(Path(tmp_path_factory.mktemp("ledger")) / "ledger.duckdb")
    add_charges(ledger, charges)
    result: AllocationReport = report(ledger, ["model", "team"], rules=[rule])
    assert_conserved(result)
    with ledger.connect(read_only=True) as con:
        sums = con.execute(
            "SELECT date_trunc('month', ChargePeriodStart)::DATE, sum(EffectiveCost) "
            "FROM charges GROUP BY ALL"
        ).fetchall()
    assert {t.window: t.total for t in result.totals} == dict(sums)
