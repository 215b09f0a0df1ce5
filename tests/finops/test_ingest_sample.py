"""The FinOps Foundation's FOCUS 1.0 sample goes into the ledger whole: every row, every
cent, once — whether it comes as CSV, CSV.gz or Parquet."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from alignops.finops.ingest import COST_COLUMNS, ingest_paths
from alignops.finops.ledger import Ledger
from alignops.manifests.config import FinopsSettings

GOVERNED = FinopsSettings().governed_tags


def _csv_totals(path: Path) -> dict[str, Decimal]:
    """Each cost column summed with Python's csv module and Decimal, `NULL` as null."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for column in COST_COLUMNS:
                if row[column] not in ("", "NULL"):
                    totals[column] += Decimal(row[column])
    return dict(totals)


def _count_non_null(path: Path, column: str) -> int:
    with path.open(newline="", encoding="utf-8") as f:
        return sum(row[column] not in ("", "NULL") for row in csv.DictReader(f))


def _ledger_totals(ledger: Ledger) -> dict[str, Decimal]:
    with ledger.connect(read_only=True) as con:
        sums = ", ".join(f'sum("{c}")' for c in COST_COLUMNS)
        row = con.execute(f"SELECT {sums} FROM charges").fetchone()
    assert row is not None
    return dict(zip(COST_COLUMNS, row, strict=True))


def _rows(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Every ledger row but the ingest id (which differs between ledgers)."""
    with ledger.connect(read_only=True) as con:
        return con.execute(
            "SELECT * EXCLUDE (x_IngestId) FROM charges ORDER BY x_RowNumber"
        ).fetchall()


def test_sample_ingests_every_row_and_cent_with_a_report(
    focus_sample: Path, ledger: Ledger
) -> None:
    (result,) = ingest_paths(ledger, [focus_sample], governed_tags=GOVERNED)
    assert result.status == "ingested" and result.rows == 942
    report = result.report
    assert report.focus_version == report.detected_version == "1.0"
    assert report.rows == 942 and report.rows_with_errors == 0
    assert report.extra_columns == ("CommitmentDiscountCategory", "CommitmentDiscountName", "Id")
    found = {(p.rule, p.column): p for p in report.problems}
    # the quirks are reported, not fatal: the non-FOCUS Id column, 'YYYY-MM-DD hh:mm:ss'
    assert found["column-not-focus", "Id"].count == 942
    assert found["column-not-focus", "Id"].lines == (2, 3, 4, 5, 6)
    assert found["datetime-format", "ChargePeriodStart"].count == 942
    assert not report.errors
    # ResourceName is NULL on every row, and nullable: no problem
    assert not [p for p in report.problems if p.column == "ResourceName"]

    expected = _csv_totals(focus_sample)
    assert _ledger_totals(ledger) == expected
    assert result.totals == {"USD": expected}
    assert report.rows_without_cost == dict.fromkeys(COST_COLUMNS, 0)

    with ledger.connect(read_only=True) as con:
        count, nulls, lines, first, last = (
            con.execute(
                "SELECT count(*), count(*) FILTER (WHERE ChargeClass IS NOT NULL), "
                "count(DISTINCT x_RowNumber), min(x_RowNumber), max(x_RowNumber) FROM charges"
            ).fetchone()
            or ()
        )
        assert (count, nulls, lines, first, last) == (942, 0, 942, 2, 943)  # `NULL` is null
        stored = con.execute("SELECT rows, problems, report, focus_version FROM ingests").fetchall()
        extra, source = (
            con.execute("SELECT x_Extra, x_Source FROM charges WHERE x_RowNumber = 2").fetchone()
            or ()
        )
    ((rows, problems, text, version),) = stored
    assert (rows, problems, version) == (942, 0, "1.0")
    assert json.loads(text)["problems"] == [p.to_dict() for p in report.problems]
    assert json.loads(extra) == {"Id": "11472"} and source == "focus"  # nulls left out
    with ledger.connect(read_only=True) as con:
        kept = con.execute(
            "SELECT count(*) FROM charges WHERE json_extract_string(x_Extra, "
            "'$.CommitmentDiscountCategory') IS NOT NULL"
        ).fetchall()
    assert kept == [(_count_non_null(focus_sample, "CommitmentDiscountCategory"),)]


def test_ingesting_the_sample_twice_changes_nothing(focus_sample: Path, ledger: Ledger) -> None:
    (first,) = ingest_paths(ledger, [focus_sample], governed_tags=GOVERNED)
    before = _ledger_totals(ledger), _rows(ledger)
    copy = ledger.path.parent / "renamed.csv"
    shutil.copyfile(focus_sample, copy)
    again, renamed = ingest_paths(ledger, [focus_sample, copy], governed_tags=GOVERNED)
    for second in (again, renamed):
        assert second.status == "skipped"
        assert second.ingest_id == first.ingest_id and second.rows == 942
        assert second.totals == first.totals and second.ingested_at == first.ingested_at
    assert (_ledger_totals(ledger), _rows(ledger)) == before
    with ledger.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ingests").fetchone() == (1,)


def test_a_changed_file_with_the_same_name_ingests(focus_sample: Path, ledger: Ledger) -> None:
    path = ledger.path.parent / "export.csv"
    lines = focus_sample.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:11]), encoding="utf-8")
    ingest_paths(ledger, [path], governed_tags=GOVERNED)
    path.write_text("".join([lines[0], *lines[11:21]]), encoding="utf-8")
    (second,) = ingest_paths(ledger, [path], governed_tags=GOVERNED)
    assert second.status == "ingested" and second.rows == 10
    with ledger.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM charges").fetchone() == (20,)
        assert con.execute("SELECT count(*) FROM ingests").fetchone() == (2,)


def test_csv_gz_and_parquet_copies_give_identical_ledger_rows(
    focus_sample: Path, tmp_path: Path
) -> None:
    gz = tmp_path / "sample.csv.gz"
    gz.write_bytes(gzip.compress(focus_sample.read_bytes()))
    parquet = tmp_path / "sample.parquet"
    _typed_parquet_copy(focus_sample, parquet)
    ledgers = {}
    for name, path in (("csv", focus_sample), ("gz", gz), ("parquet", parquet)):
        ledgers[name] = Ledger(tmp_path / f"{name}.duckdb")
        (result,) = ingest_paths(ledgers[name], [path], governed_tags=GOVERNED)
        assert result.rows == 942 and not result.report.errors
    expected = _rows(ledgers["csv"])
    assert len(expected) == 942
    assert _rows(ledgers["gz"]) == expected
    assert _rows(ledgers["parquet"]) == expected


def _typed_parquet_copy(source: Path, target: Path) -> None:
    """The sample as a typed Parquet export: money DECIMAL(38, 18), periods TIMESTAMP."""
    money = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity")
    money += ("PricingQuantity", "ListUnitPrice", "ContractedUnitPrice")
    times = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
    replace = [f'CAST("{c}" AS DECIMAL(38, 18)) AS "{c}"' for c in money]
    replace += [f'CAST("{c}" AS TIMESTAMP) AS "{c}"' for c in times]
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * REPLACE ({', '.join(replace)}) FROM read_csv('{source}', "
        "header = true, all_varchar = true, nullstr = ['NULL'])) "
        f"TO '{target}' (FORMAT parquet)"
    )
    con.close()
