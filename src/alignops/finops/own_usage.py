"""The project's own usage in the ledger: metered serving and evidence jobs as FOCUS rows.

:func:`sync_own_usage` re-derives, from the state database, every ledger row of
``x_Source`` ``alignops-runtime`` and ``alignops-evidence`` and replaces them in one
transaction (metered cost records grow in place as more of an hour is metered, so
re-deriving is what never double-counts; decision 0035). Nothing changes when the rows
are the same as last time.

- ``alignops-runtime``: one row per ``cost_records`` row (GB-seconds and requests of a
  deployment, revision, model and hour), its FOCUS columns as they are;
  ``x_Activity`` ``serving``.
- ``alignops-evidence``: the CPU-seconds of evidence jobs (``usage_records``) per hour,
  model, check, activity (``fairness-audit``, ``explainability``, ``drift-monitoring``,
  ``performance-evaluation``) and revision, priced at ``cpuSecond`` of the price list
  ``finops.evidencePriceList`` names (default: the first environment's target's).

Model, environment and activity come from the records; team and cost center (and any
dimension a record leaves empty) from their labels, read like a bill's tags through
``finops.governedTags`` — ``team: risk`` on a ModelDeployment or Model gives its rows
``x_Team`` ``risk``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import TYPE_CHECKING, Any

from alignops.errors import LedgerError, ManifestError
from alignops.evidence.usage import list_usage
from alignops.finops.ledger import DIMENSION_COLUMNS, LEDGER_COLUMNS, MONEY
from alignops.finops.tags import governed_candidates, normalize_key
from alignops.manifests.config import CONFIG_FILE, PriceList, RepoConfig
from alignops.metering import load_records
from alignops.store import Database

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "EVIDENCE_SOURCE",
    "RUNTIME_SOURCE",
    "OwnUsageResult",
    "evidence_pricing",
    "own_rows",
    "sync_own_usage",
]

RUNTIME_SOURCE = "alignops-runtime"
EVIDENCE_SOURCE = "alignops-evidence"
_INGEST_SOURCE = "alignops"  # the ``ingests`` row of own usage: source and format
_FOCUS_VERSION = "1.3"
_ALIGNOPS = "alignops"
_QUANTUM = Decimal(1).scaleb(-18)
_CPU_QUANTUM = Decimal(1).scaleb(-6)
_EXACT = Context(prec=100)
_ROUND = Context(prec=60, rounding=ROUND_HALF_EVEN)
_RUNTIME_EXTRA = ("x_Target", "x_PriceList", "x_BilledMs", "x_PricingNote")


@dataclass(frozen=True)
class OwnUsageResult:
    """What a sync found and did."""

    runtime_rows: int
    evidence_rows: int
    evidence_records: int
    """Evidence usage records read (several per row: same hour, model and check)."""
    replaced: int
    """Own rows the ledger held before (0 when nothing changed)."""
    changed: bool
    """False when the ledger already held exactly these rows."""
    evidence_price_list: str | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "runtimeRows": self.runtime_rows,
            "evidenceRows": self.evidence_rows,
            "evidenceRecords": self.evidence_records,
            "replaced": self.replaced,
            "changed": self.changed,
            "evidencePriceList": self.evidence_price_list,
            "notes": list(self.notes),
        }


def evidence_pricing(config: RepoConfig) -> tuple[PriceList | None, str | None]:
    """The price list of evidence jobs and, when there is none, why."""
    name = config.finops.evidence_price_list
    if name is None:
        if not config.environments:
            return None, "no environment in alignops.yaml, so no price list for evidence jobs"
        environment = config.environments[0]
        target = next((t for t in config.targets if t.name == environment.target), None)
        if target is None or target.price_list is None:
            return None, (
                f"target {environment.target!r} of environment {environment.name!r} has no "
                "price list (set finops.evidencePriceList)"
            )
        name = target.price_list
    found = next((p for p in config.price_lists if p.name == name), None)
    if found is None:
        known = ", ".join(p.name for p in config.price_lists) or "none defined"
        raise ManifestError.single(
            CONFIG_FILE,
            f"unknown price list {name!r} (price lists: {known})",
            field="finops.evidencePriceList",
        )
    if found.cpu_second == 0:
        return found, f"price list {found.name!r} sets no cpuSecond price"
    return found, None


def own_rows(database: Database, config: RepoConfig) -> tuple[list[dict[str, Any]], int]:
    """The ledger rows of the state database's own usage (runtime, then evidence), and
    the number of evidence usage records they come from."""
    governed = {str(k): v for k, v in config.finops.governed_tags.items()}
    rows = [
        _runtime_row(record, i, governed)
        for i, record in enumerate(load_records(database), start=1)
    ]
    price_list, note = evidence_pricing(config)
    usage = [u for u in list_usage(database) if u["source"] == "evidence"]
    rows += _evidence_rows(usage, price_list, note, governed)
    return rows, len(usage)


def sync_own_usage(
    con: duckdb.DuckDBPyConnection, database: Database, *, config: RepoConfig
) -> OwnUsageResult:
    """Bring the ledger's own rows up to date with the state database: all replaced in
    one transaction, or left alone when they are the same."""
    rows, evidence_records = own_rows(database, config)
    runtime = sum(1 for r in rows if r["x_Source"] == RUNTIME_SOURCE)
    price_list, note = evidence_pricing(config)
    notes = (note,) if note and len(rows) > runtime else ()
    digest = hashlib.sha256(
        json.dumps(rows, sort_keys=True, default=str, separators=(",", ":")).encode()
    ).hexdigest()
    import duckdb

    try:
        con.begin()
        try:
            held = _held(con)
            if held == (digest, len(rows)):
                con.rollback()
                changed, replaced = False, 0
            else:
                replaced = _replace(con, rows, digest, runtime)
                con.commit()
                changed = True
        except BaseException:
            con.rollback()
            raise
    except duckdb.Error as exc:
        raise LedgerError(f"cannot write own usage into the cost ledger: {exc}") from None
    return OwnUsageResult(
        runtime_rows=runtime,
        evidence_rows=len(rows) - runtime,
        evidence_records=evidence_records,
        replaced=replaced,
        changed=changed,
        evidence_price_list=price_list.name if price_list else None,
        notes=notes,
    )


# -- the ledger -------------------------------------------------------------------------


def _held(con: duckdb.DuckDBPyConnection) -> tuple[str, int] | None:
    """Digest of the own rows the ledger holds (per its ``ingests`` row) and their count."""
    found = con.execute(
        "SELECT digest FROM ingests WHERE source = ? AND format = ?",
        [_INGEST_SOURCE, _INGEST_SOURCE],
    ).fetchall()
    count = con.execute(
        "SELECT count(*) FROM charges WHERE x_Source IN (?, ?)", [RUNTIME_SOURCE, EVIDENCE_SOURCE]
    ).fetchone()
    if len(found) != 1 or count is None:
        return None
    return str(found[0][0]), int(count[0])


def _replace(
    con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], digest: str, runtime: int
) -> int:
    """Delete the own rows and their ``ingests`` row, insert the new ones: how many
    rows were deleted."""
    deleted = con.execute(
        "DELETE FROM charges WHERE x_Source IN (?, ?) RETURNING 1",
        [RUNTIME_SOURCE, EVIDENCE_SOURCE],
    ).fetchall()
    con.execute(
        "DELETE FROM ingests WHERE source = ? AND format = ?", [_INGEST_SOURCE, _INGEST_SOURCE]
    )
    report = {"runtimeRows": runtime, "evidenceRows": len(rows) - runtime}
    inserted = con.execute(
        "INSERT INTO ingests (source, digest, format, focus_version, rows, problems, report, "
        "ingested_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
        [
            _INGEST_SOURCE,
            digest,
            _INGEST_SOURCE,
            _FOCUS_VERSION,
            len(rows),
            json.dumps(report),
            datetime.now(UTC).replace(tzinfo=None),
        ],
    ).fetchone()
    assert inserted is not None
    if rows:
        con.register("alignops_own_rows", _arrow(rows, ingest_id=int(inserted[0])))
        try:
            con.execute("INSERT INTO charges BY NAME SELECT * FROM alignops_own_rows")
        finally:
            con.unregister("alignops_own_rows")
    return len(deleted)


def _arrow(rows: list[dict[str, Any]], *, ingest_id: int) -> pa.Table:
    import pyarrow as pa

    kinds = {MONEY: pa.decimal128(38, 18), "TIMESTAMP": pa.timestamp("us"), "BIGINT": pa.int64()}
    arrays = {}
    for name, kind in LEDGER_COLUMNS.items():
        values = [ingest_id] * len(rows) if name == "x_IngestId" else [r.get(name) for r in rows]
        arrays[name] = pa.array(values, kinds.get(kind, pa.string()))
    return pa.table(arrays)


# -- runtime rows -----------------------------------------------------------------------


def _runtime_row(
    record: Mapping[str, Any], number: int, governed: Mapping[str, list[str]]
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, kind in LEDGER_COLUMNS.items():
        value = record.get(name)
        if value is None:
            continue
        if kind == MONEY:
            value = _money(Decimal(value))
        elif kind == "TIMESTAMP":
            value = _timestamp(value)
        row[name] = value
    tags = _tags(record.get("Tags"))
    row.update(
        x_Tags=_normalized_text(tags),
        x_Activity=record.get("x_Activity") or "serving",
        x_Source=RUNTIME_SOURCE,
        x_FocusVersion=_FOCUS_VERSION,
        x_RowNumber=number,
        x_Extra=json.dumps(
            {k: record.get(k) for k in _RUNTIME_EXTRA if record.get(k) is not None},
            sort_keys=True,
        ),
    )
    _dimensions(row, tags, governed)
    return row


# -- evidence rows ----------------------------------------------------------------------


@dataclass
class _Job:
    """Evidence usage of one hour, model, check and revision, summed."""

    first: Mapping[str, Any]
    labels: dict[str, str]
    model_digest: str | None
    cpu: Decimal = Decimal(0)
    wall: Decimal = Decimal(0)
    rows: int = 0
    records: int = 0


def _evidence_rows(
    usage: Iterable[Mapping[str, Any]],
    price_list: PriceList | None,
    note: str | None,
    governed: Mapping[str, list[str]],
) -> list[dict[str, Any]]:
    jobs: dict[tuple[Any, ...], _Job] = {}
    for record in usage:
        attributes = json.loads(record["attributes"] or "{}")
        labels = {str(k): str(v) for k, v in (attributes.get("labels") or {}).items()}
        digest = attributes.get("modelDigest")
        hour = _hour(record["recorded_at"])
        key = (
            hour,
            record["model"],
            record["activity"],
            record["detail"],
            record["revision"],
            digest,
            json.dumps(labels, sort_keys=True),
        )
        job = jobs.get(key)
        if job is None:
            job = jobs[key] = _Job(record, labels, digest)
        job.cpu = _EXACT.add(job.cpu, _seconds(record["cpu_seconds"]))
        job.wall = _EXACT.add(job.wall, _seconds(record["wall_seconds"]))
        job.rows += int(record["quantity"])
        job.records += 1
    price = price_list.cpu_second if price_list else Decimal(0)
    currency = price_list.currency if price_list else PriceList.model_fields["currency"].default
    rows = []
    for number, (key, job) in enumerate(sorted(jobs.items(), key=_job_order), start=1):
        hour, model, activity, check, revision, digest, _ = key
        cost = _money(_EXACT.multiply(job.cpu, price))
        month = hour.replace(day=1, hour=0)
        row: dict[str, Any] = {
            "BilledCost": cost,
            "EffectiveCost": cost,
            "ListCost": cost,
            "ContractedCost": cost,
            "ConsumedQuantity": job.cpu,
            "PricingQuantity": job.cpu,
            "ListUnitPrice": _money(price),
            "ContractedUnitPrice": _money(price),
            "BillingCurrency": currency,
            "BillingAccountId": _ALIGNOPS,
            "BillingAccountName": "alignops evidence",
            "BillingPeriodStart": month,
            "BillingPeriodEnd": (month + timedelta(days=32)).replace(day=1),
            "ChargePeriodStart": hour,
            "ChargePeriodEnd": hour + timedelta(hours=1),
            "ChargeCategory": "Usage",
            "ChargeDescription": f"{check} evidence of {model or 'a model'}: CPU-seconds",
            "ChargeFrequency": "Usage-Based",
            "ConsumedUnit": "CPU-seconds",
            "PricingUnit": "CPU-seconds",
            "PricingCategory": "Standard",
            "InvoiceIssuerName": _ALIGNOPS,
            "ProviderName": _ALIGNOPS,
            "PublisherName": _ALIGNOPS,
            "ServiceProviderName": _ALIGNOPS,
            "HostProviderName": _ALIGNOPS,
            "ServiceCategory": "AI and Machine Learning",
            "ServiceName": "alignops evidence",
            "ResourceId": f"Model/{model}" if model else None,
            "ResourceName": model,
            "ResourceType": "Model",
            "SkuId": "cpu-second",
            "SkuPriceId": f"{price_list.name}/cpu-second" if price_list else None,
            "Tags": json.dumps(dict(sorted(job.labels.items()))) if job.labels else None,
            "x_Tags": _normalized_text(job.labels),
            "x_Model": model,
            "x_Activity": activity,
            "x_Revision": revision,
            "x_Source": EVIDENCE_SOURCE,
            "x_FocusVersion": _FOCUS_VERSION,
            "x_RowNumber": number,
            "x_Extra": json.dumps(
                {
                    "check": check,
                    "records": job.records,
                    "rows": job.rows,
                    "wallSeconds": str(job.wall),
                    "modelDigest": digest,
                    "priceList": price_list.name if price_list else None,
                    "pricingNote": note,
                },
                sort_keys=True,
            ),
        }
        _dimensions(row, job.labels, governed)
        rows.append(row)
    return rows


def _job_order(item: tuple[tuple[Any, ...], _Job]) -> tuple[Any, ...]:
    return tuple("" if part is None else part for part in item[0])


# -- shared -----------------------------------------------------------------------------


def _dimensions(
    row: dict[str, Any], tags: Mapping[str, str], governed: Mapping[str, list[str]]
) -> None:
    """Fill each dimension the record left empty from the tags, as ingest reads a bill's
    (:mod:`alignops.finops.tags`): the first governed key with a value, trimmed."""
    normalized = _normalized(tags)
    for dimension, column in DIMENSION_COLUMNS.items():
        if row.get(column):
            continue
        for key in governed_candidates(governed.get(dimension, ())):
            value = normalized.get(key, "").strip()
            if value:
                row[column] = value
                break


def _normalized(tags: Mapping[str, str]) -> dict[str, str]:
    """Keys normalized, the first of keys that fold together winning (as ingest does)."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        out.setdefault(normalize_key(key), value)
    return out


def _tags(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    value = json.loads(text)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _normalized_text(tags: Mapping[str, str]) -> str | None:
    return json.dumps(_normalized(tags), sort_keys=True) if tags else None


def _money(value: Decimal) -> Decimal:
    """The ledger's scale: 18 decimals (finer metered amounts rounded half-even)."""
    return value.quantize(_QUANTUM, context=_ROUND)


def _seconds(value: Any) -> Decimal:
    """A measured duration (a float in the state database) to the microsecond."""
    return Decimal(repr(float(value))).quantize(_CPU_QUANTUM, context=_ROUND)


def _timestamp(text: str) -> datetime:
    """FOCUS text (``2026-11-23T12:00:00Z``) → naive UTC, as the ledger stores it."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _hour(text: str) -> datetime:
    moment = _timestamp(text)
    return moment.replace(minute=0, second=0, microsecond=0)
