"""Metering: runtime telemetry priced into FOCUS cost records (docs/metering.md).

:func:`meter` reads the telemetry segments not counted yet, sums billed requests and
GB-seconds per service, revision, model and hour, prices them with the price list of
the service's target at the revision that ran, and adds them to the ``cost_records``
table — each segment exactly once. :func:`load_records`, :func:`summarize` and
:func:`export_records` read them back for ``alignops cost usage | export`` and for the
FinOps ledger.
"""

from alignops.metering.export import ExportFormat, export_records
from alignops.metering.meter import MeterResult, meter
from alignops.metering.prices import PriceBook, Pricing, Snapshots
from alignops.metering.report import (
    Grouping,
    UsageLine,
    UsageTotals,
    load_records,
    summarize,
    totals,
)

__all__ = [
    "ExportFormat",
    "Grouping",
    "MeterResult",
    "PriceBook",
    "Pricing",
    "Snapshots",
    "UsageLine",
    "UsageTotals",
    "export_records",
    "load_records",
    "meter",
    "summarize",
    "totals",
]
