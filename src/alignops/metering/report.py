"""Reading cost records back: filtered rows, and sums per deployment, revision or hour."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select

from alignops.metering.records import exact
from alignops.store.db import Database
from alignops.store.schema import cost_records

__all__ = ["Grouping", "UsageLine", "UsageTotals", "load_records", "summarize", "totals"]

Grouping = Literal["deployment", "revision", "hour"]

_GROUP_COLUMNS: dict[Grouping, tuple[str, ...]] = {
    "deployment": ("ResourceId", "x_Environment"),
    "revision": ("ResourceId", "x_Environment", "x_Revision"),
    "hour": ("ResourceId", "x_Environment", "ChargePeriodStart"),
}


@dataclass
class UsageLine:
    """Usage and cost of one group (a deployment, or a deployment at a revision or in an
    hour), in one currency; exact, rounded only when printed."""

    resource: str
    environment: str
    currency: str
    revision: str | None = None
    hour: str | None = None
    requests: Decimal = Decimal(0)
    gb_seconds: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    notes: set[str] = field(default_factory=set)
    """Why some of the usage was not priced."""

    @property
    def priced(self) -> bool:
        """False when none of the usage had a price list (the cost is zero for that)."""
        return not (self.notes and self.cost == 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "environment": self.environment,
            "revision": self.revision,
            "hour": self.hour,
            "requests": int(self.requests),
            "gbSeconds": str(self.gb_seconds),
            "cost": str(self.cost),
            "currency": self.currency,
            "priced": self.priced,
            "notes": sorted(self.notes),
        }


@dataclass
class UsageTotals:
    """Usage of all lines, and cost per currency (of the lines that were priced)."""

    requests: Decimal = Decimal(0)
    gb_seconds: Decimal = Decimal(0)
    cost: dict[str, Decimal] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": int(self.requests),
            "gbSeconds": str(self.gb_seconds),
            "cost": [{"currency": c, "amount": str(a)} for c, a in self.cost.items()],
        }


def load_records(
    database: Database, *, environment: str | None = None, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Cost records (FOCUS columns, no ``id``), oldest hour first; ``since``: hours
    starting at or after it."""
    columns = [c for c in cost_records.columns if c.name != "id"]
    query = select(*columns).order_by(
        cost_records.c.ChargePeriodStart, cost_records.c.ResourceId, cost_records.c.id
    )
    if environment is not None:
        query = query.where(cost_records.c.x_Environment == environment)
    if since is not None:
        start = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = query.where(cost_records.c.ChargePeriodStart >= start)
    with database.transaction() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def summarize(records: Iterable[dict[str, Any]], by: Grouping) -> list[UsageLine]:
    """Requests, GB-seconds and cost per group, in the order groups first appear."""
    lines: dict[tuple[Any, ...], UsageLine] = {}
    for record in records:
        key = (*(record[c] for c in _GROUP_COLUMNS[by]), record["BillingCurrency"])
        line = lines.get(key)
        if line is None:
            line = lines[key] = UsageLine(
                resource=record["ResourceId"],
                environment=record["x_Environment"],
                currency=record["BillingCurrency"],
                revision=record["x_Revision"] if by == "revision" else None,
                hour=record["ChargePeriodStart"] if by == "hour" else None,
            )
        quantity = Decimal(record["ConsumedQuantity"])
        if record["SkuId"] == "requests":
            line.requests = exact.add(line.requests, quantity)
        else:
            line.gb_seconds = exact.add(line.gb_seconds, quantity)
        line.cost = exact.add(line.cost, Decimal(record["BilledCost"]))
        if record["x_PricingNote"]:
            line.notes.add(record["x_PricingNote"])
    return list(lines.values())


def totals(lines: Iterable[UsageLine]) -> UsageTotals:
    out = UsageTotals()
    for line in lines:
        out.requests = exact.add(out.requests, line.requests)
        out.gb_seconds = exact.add(out.gb_seconds, line.gb_seconds)
        if line.priced:
            out.cost[line.currency] = exact.add(out.cost.get(line.currency, Decimal(0)), line.cost)
    return out
