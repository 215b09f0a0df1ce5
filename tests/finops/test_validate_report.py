"""A FOCUS file with problems is reported rule by rule — how many rows, which lines, what
values — and every one of its rows still lands in the ledger."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from alignops.finops.ingest import IngestRefused, ingest_paths
from alignops.finops.ledger import Ledger
from alignops.finops.validate import FocusProblem, ValidationReport
from alignops.manifests.config import FinopsSettings

GOVERNED = FinopsSettings().governed_tags


def _sample_rows(sample: Path, count: int) -> tuple[list[str], list[dict[str, str]]]:
    with sample.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = [row for _, row in zip(range(count), reader, strict=False)]
        return list(reader.fieldnames or ()), rows


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _problems(report: ValidationReport) -> dict[tuple[str, str | None], FocusProblem]:
    return {(p.rule, p.column): p for p in report.problems}


@pytest.fixture
def broken(focus_sample: Path, tmp_path: Path) -> tuple[Path, Callable[[int], int]]:
    """20 rows of the sample, InvoiceIssuerName dropped, a record spanning two lines
    (row 1), and one problem per row 3–12. Returns the file and row index → line."""
    header, rows = _sample_rows(focus_sample, 20)
    header.remove("InvoiceIssuerName")
    rows[1]["ChargeDescription"] = "two\nlines"
    rows[3]["Tags"] = '{"team": "a"'
    rows[4]["Tags"] = '["team", "a"]'
    rows[5]["ChargeCategory"] = "Usge"
    rows[6]["BilledCost"] = "12,50"
    rows[7]["ServiceName"] = "NULL"
    rows[8]["ChargePeriodEnd"] = rows[8]["ChargePeriodStart"]
    rows[9]["BillingCurrency"] = "EUR"
    rows[10]["ChargePeriodStart"] = "yesterday"
    rows[11]["EffectiveCost"] = "0.1234567890123456789"
    rows[12]["BillingCurrency"] = "usd"

    def line(index: int) -> int:  # header is line 1; row 1 takes two lines
        return 2 + index + (1 if index > 1 else 0)

    return _write(tmp_path / "broken.csv", header, rows), line


def test_each_problem_is_counted_and_located_and_no_row_is_lost(
    broken: tuple[Path, Callable[[int], int]], ledger: Ledger
) -> None:
    path, line = broken
    (result,) = ingest_paths(ledger, [path], governed_tags=GOVERNED)
    assert result.status == "ingested" and result.rows == 20
    found = _problems(result.report)
    expected = {
        ("column-missing", "InvoiceIssuerName"): ("error", 20, ()),
        ("json-invalid", "Tags"): ("error", 1, (line(3),)),
        ("json-not-object", "Tags"): ("error", 1, (line(4),)),
        ("value-not-allowed", "ChargeCategory"): ("error", 1, (line(5),)),
        ("type-decimal", "BilledCost"): ("error", 1, (line(6),)),
        ("null-not-allowed", "ServiceName"): ("error", 1, (line(7),)),
        ("period-order", "ChargePeriodEnd"): ("error", 1, (line(8),)),
        ("type-datetime", "ChargePeriodStart"): ("error", 1, (line(10),)),
        ("decimal-rounded", "EffectiveCost"): ("warning", 1, (line(11),)),
        ("currency-format", "BillingCurrency"): ("error", 1, (line(12),)),
        ("currency-mixed", "BillingCurrency"): ("warning", 2, (line(9), line(12))),
    }
    for key, (severity, count, lines) in expected.items():
        assert key in found, key
        problem = found[key]
        assert (problem.severity, problem.count, problem.lines) == (severity, count, lines), key
    assert found["value-not-allowed", "ChargeCategory"].examples == ("Usge",)
    assert found["type-decimal", "BilledCost"].examples == ("12,50",)
    assert set(found["currency-mixed", "BillingCurrency"].examples) == {"EUR", "usd"}
    assert result.report.rows_with_errors == 8  # rows 3-8, 10 and 12 (9 and 11 only warn)
    assert result.report.rows_without_cost["BilledCost"] == 1

    with ledger.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT x_RowNumber, BilledCost, ChargePeriodStart, x_Tags, Tags, ServiceName, "
            "ChargeCategory, EffectiveCost FROM charges ORDER BY x_RowNumber"
        ).fetchall()
        (problems,) = con.execute("SELECT problems FROM ingests").fetchone() or ()
    assert [r[0] for r in rows] == [line(i) for i in range(20)]
    by_line = {r[0]: r for r in rows}
    assert by_line[line(6)][1] is None  # the cost that is not a number: kept as null
    assert by_line[line(10)][2] is None
    assert by_line[line(3)][3] is None and by_line[line(3)][4] == '{"team": "a"'
    assert by_line[line(5)][6] == "Usge"  # kept as given, reported
    assert str(by_line[line(11)][7]) == "0.123456789012345679"
    assert problems == 8


def test_strict_refuses_a_file_with_errors_and_writes_nothing(
    broken: tuple[Path, Callable[[int], int]], focus_sample: Path, ledger: Ledger
) -> None:
    ingest_paths(ledger, [focus_sample], governed_tags=GOVERNED)
    path, _ = broken
    with pytest.raises(IngestRefused) as refused:
        ingest_paths(ledger, [path], governed_tags=GOVERNED, strict=True)
    assert refused.value.exit_code == 1
    (result,) = refused.value.results
    assert result.status == "refused" and result.report.errors
    with ledger.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM charges").fetchone() == (942,)
        assert con.execute("SELECT count(*) FROM ingests").fetchone() == (1,)
    # warnings alone do not refuse: the sample (5 warnings) passes --strict
    again = Ledger(ledger.path.with_name("strict.duckdb"))
    (ok,) = ingest_paths(again, [focus_sample], governed_tags=GOVERNED, strict=True)
    assert ok.status == "ingested" and ok.report.warnings


def test_blank_lines_and_multiline_records_keep_file_line_numbers(
    focus_sample: Path, tmp_path: Path, ledger: Ledger
) -> None:
    header, rows = _sample_rows(focus_sample, 4)
    rows[0]["ChargeDescription"] = "one\r\ntwo\r\nthree"
    rows[2]["ChargeCategory"] = "Refund"
    body = _write(tmp_path / "x.csv", header, rows).read_bytes().splitlines(keepends=True)
    # header, row 0 (lines 2-4), a blank line (5), row 1 (6), row 2 (7), row 3 (8)
    crlf = tmp_path / "lines.csv"
    crlf.write_bytes(b"".join(body[:4]) + b"\n" + b"".join(body[4:]))
    (result,) = ingest_paths(ledger, [crlf], governed_tags=GOVERNED)
    assert _problems(result.report)["value-not-allowed", "ChargeCategory"].lines == (7,)
    with ledger.connect(read_only=True) as con:
        lines = con.execute("SELECT x_RowNumber FROM charges ORDER BY 1").fetchall()
        (description,) = (
            con.execute("SELECT ChargeDescription FROM charges WHERE x_RowNumber = 2").fetchone()
            or ()
        )
    assert [n for (n,) in lines] == [2, 6, 7, 8]
    assert description == "one\r\ntwo\r\nthree"


def test_report_round_trips_through_json(
    broken: tuple[Path, Callable[[int], int]], ledger: Ledger
) -> None:
    path, _ = broken
    (result,) = ingest_paths(ledger, [path], governed_tags=GOVERNED)
    again = ValidationReport.from_dict(result.report.to_dict())
    assert again == result.report
