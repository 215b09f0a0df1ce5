"""Usage × prices → FOCUS cost records, and adding them to the ``cost_records`` table.

Two SKUs per hour of a service's usage, priced like serverless functions are:

- ``gb-second``: memory limit × billed duration, GB-seconds × ``gbSecond``;
- ``requests``: billed requests × ``perMillionRequests`` / 1,000,000.

Money and quantities are :class:`~decimal.Decimal`, computed exactly (an inexact
operation raises) and stored as text; rounding is for presenting only. The columns are
FOCUS 1.x columns (1.2's mandatory ones and 1.3's provider names) plus ``x_`` columns
of our own; one row per (ResourceId, x_Environment, x_Revision, x_Model,
ChargePeriodStart, SkuId) — metering more usage of the same hour adds to its row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, Inexact
from typing import Any

from sqlalchemy import Connection, insert, select, update

from alignops.manifests.config import PriceList
from alignops.metering.prices import Pricing
from alignops.metering.segments import Usage
from alignops.store.schema import cost_records

__all__ = [
    "CHARGE_KEY",
    "DECIMAL_COLUMNS",
    "FOCUS_COLUMNS",
    "TIME_COLUMNS",
    "add_records",
    "charge_key",
    "cost_rows",
    "decimal_text",
    "exact",
    "merge",
]

exact = Context(prec=100, traps=[Inexact])
"""Arithmetic that never rounds silently."""

FOCUS_COLUMNS = tuple(c.name for c in cost_records.columns if c.name != "id")
"""Every column of a cost record, as FOCUS names them (``x_``: alignops's own)."""
DECIMAL_COLUMNS = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ConsumedQuantity",
    "PricingQuantity",
    "ListUnitPrice",
    "ContractedUnitPrice",
)
TIME_COLUMNS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
CHARGE_KEY = ("ResourceId", "x_Environment", "x_Revision", "x_Model", "ChargePeriodStart", "SkuId")

_UNPRICED_CURRENCY: str = PriceList.model_fields["currency"].default
_MB_MS_PER_GB_SECOND = Decimal(1024 * 1000)
_ALIGNOPS = "alignops"


def decimal_text(value: Decimal) -> str:
    """Exact, without exponent or trailing zeros: ``Decimal('1.30E-5')`` → ``'0.000013'``."""
    return format(value.normalize(exact), "f")


def cost_rows(usage: Usage, pricing: Pricing) -> list[dict[str, Any]]:
    """The two cost records (GB-seconds, requests) of one hour of usage."""
    gb_seconds = exact.divide(Decimal(usage.mb_ms), _MB_MS_PER_GB_SECOND)
    prices = pricing.price_list
    gb_price = prices.gb_second if prices else Decimal(0)
    request_price = (
        exact.divide(prices.per_million_requests, Decimal(10**6)) if prices else Decimal(0)
    )
    name = pricing.resource_id.partition("/")[2]
    served = " ".join(v for v in (usage.model, usage.model_version) if v)
    common = _common(usage, pricing)
    return [
        {
            **common,
            **_priced(gb_seconds, "GB-Seconds", gb_price),
            "ChargeDescription": f"{name}: memory × billed duration"
            + (f" serving {served}" if served else ""),
            "SkuId": "gb-second",
            "SkuPriceId": f"{prices.name}/gb-second" if prices else None,
            "x_BilledMs": usage.billed_ms,
        },
        {
            **common,
            **_priced(Decimal(usage.requests), "Requests", request_price),
            "ChargeDescription": f"{name}: billed requests"
            + (f" served by {served}" if served else ""),
            "SkuId": "requests",
            "SkuPriceId": f"{prices.name}/requests" if prices else None,
            "x_BilledMs": None,
        },
    ]


def _priced(quantity: Decimal, unit: str, unit_price: Decimal) -> dict[str, Any]:
    cost = decimal_text(exact.multiply(quantity, unit_price))
    return {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "ConsumedQuantity": decimal_text(quantity),
        "ConsumedUnit": unit,
        "PricingQuantity": decimal_text(quantity),
        "PricingUnit": unit,
        "ListUnitPrice": decimal_text(unit_price),
        "ContractedUnitPrice": decimal_text(unit_price),
    }


def _common(usage: Usage, pricing: Pricing) -> dict[str, Any]:
    hour = usage.hour.astimezone(UTC)
    month = hour.replace(day=1, hour=0)
    next_month = (month + timedelta(days=32)).replace(day=1)
    prices = pricing.price_list
    kind, _, name = pricing.resource_id.partition("/")
    return {
        "BillingCurrency": prices.currency if prices else _UNPRICED_CURRENCY,
        "BillingAccountId": usage.environment,
        "BillingAccountName": usage.environment,
        "BillingPeriodStart": _time(month),
        "BillingPeriodEnd": _time(next_month),
        "ChargePeriodStart": _time(hour),
        "ChargePeriodEnd": _time(hour + timedelta(hours=1)),
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeFrequency": "Usage-Based",
        "PricingCategory": "Standard",
        "InvoiceIssuerName": _ALIGNOPS,
        "ProviderName": _ALIGNOPS,
        "PublisherName": _ALIGNOPS,
        "ServiceProviderName": _ALIGNOPS,
        "HostProviderName": _ALIGNOPS,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": "alignops runtime",
        "ResourceId": pricing.resource_id,
        "ResourceName": name,
        "ResourceType": kind,
        "Tags": json.dumps(dict(sorted(pricing.labels.items()))) if pricing.labels else None,
        "x_Environment": usage.environment,
        "x_Revision": usage.revision,
        "x_Model": usage.model,
        "x_ModelVersion": usage.model_version,
        "x_Target": pricing.target,
        "x_PriceList": prices.name if prices else None,
        "x_Activity": "serving",
        "x_PricingNote": pricing.note,
    }


def _time(moment: datetime) -> str:
    """FOCUS date-time format: ``2026-11-23T12:00:00Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def charge_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in CHARGE_KEY)


def merge(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the same charge key added together."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = charge_key(row)
        merged[key] = _add(merged[key], row) if key in merged else row
    return list(merged.values())


def _add(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` with ``new``'s quantities added and its costs priced again (same key:
    same revision, so the same unit price)."""
    quantity = exact.add(Decimal(old["ConsumedQuantity"]), Decimal(new["ConsumedQuantity"]))
    billed = None if old["x_BilledMs"] is None else old["x_BilledMs"] + new["x_BilledMs"]
    return {
        **old,
        **_priced(quantity, old["ConsumedUnit"], Decimal(old["ListUnitPrice"])),
        "x_BilledMs": billed,
    }


def add_records(connection: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Insert each row, or add it to the stored row of the same charge key."""
    for row in merge(rows):
        where = [cost_records.c[k] == row[k] for k in CHARGE_KEY]  # x_Model None: IS NULL
        found = connection.execute(select(cost_records).where(*where)).first()
        if found is None:
            connection.execute(insert(cost_records).values(**row))
        else:
            old = {k: v for k, v in found._mapping.items() if k != "id"}
            changed = _add(old, row)
            connection.execute(
                update(cost_records).where(cost_records.c.id == found.id).values(**changed)
            )
