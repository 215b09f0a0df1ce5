"""``alignops cost ingest``: what it prints, its JSON, its exit codes, versions, folders,
and that refused or unreadable input leaves the ledger as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from alignops.cli.cost import cost_app
from alignops.cli.cost_ingest import register
from alignops.finops.ledger import Ledger
from tests.conftest import Repo
from tests.finops.test_ingest_tags import focus_file


@pytest.fixture(autouse=True)
def _ingest_command() -> None:
    register(cost_app)


def _count(ledger: Path, table: str = "charges") -> int:
    """Rows of ingested files (own usage, synced when budgets are evaluated, not counted)."""
    mine = "x_Source = 'focus'" if table == "charges" else "source <> 'alignops'"
    with Ledger(ledger).connect(read_only=True) as con:
        (row,) = con.execute(f"SELECT count(*) FROM {table} WHERE {mine}").fetchall()
    return int(row[0])


def test_ingest_into_the_repository_ledger_then_skip(
    repo: Repo, focus_sample: Path, cli: Any
) -> None:
    first = cli("cost", "ingest", str(focus_sample), "--repo", str(repo.path))
    assert first.exit_code == 0, first.stderr
    assert "ingested" in first.stdout and "FOCUS 1.0, 942 rows" in first.stdout
    assert "EffectiveCost: 13.00 USD" in first.stdout
    assert "0 errors, 5 warnings" in first.stdout
    assert "column-not-focus" in first.stdout and "datetime-format" in first.stdout
    assert "focus-1.0-sample-aws.csv: writing 942 rows" in first.stderr  # progress
    ledger = repo.path / ".alignops" / "ledger.duckdb"
    assert _count(ledger) == 942
    again = cli("cost", "ingest", str(focus_sample), "--repo", str(repo.path))
    assert again.exit_code == 0
    assert "already ingested on" in again.stdout and "942 rows (ingest 1)" in again.stdout
    assert _count(ledger) == 942 and _count(ledger, "ingests") == 1


def test_json_output_and_the_configured_ledger(repo: Repo, focus_sample: Path, cli: Any) -> None:
    config = repo.path / "alignops.yaml"
    config.write_text(config.read_text() + "finops:\n  ledger: costs/ledger.duckdb\n")
    out = cli("cost", "ingest", str(focus_sample), "-o", "json", "--repo", str(repo.path))
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["ledger"] == str(repo.path / "costs" / "ledger.duckdb")
    (file,) = data["files"]
    assert file["status"] == "ingested" and file["rows"] == 942
    assert file["totals"]["USD"]["EffectiveCost"] == "13"  # exact, no trailing zeros
    assert file["report"]["focusVersion"] == "1.0" and file["report"]["errors"] == 0
    rules = {p["rule"] for p in file["report"]["problems"]}
    assert rules == {"column-not-focus", "datetime-format"}
    assert out.stderr == ""  # no progress lines with -o json


def test_a_focus_13_file_is_detected_and_provider_columns_filled(tmp_path: Path, cli: Any) -> None:
    row = {"ServiceProviderName": "Model Hub", "HostProviderName": "Cloud Inc."}
    path = focus_file(tmp_path / "v13.csv", [row], drop=("ProviderName", "PublisherName"))
    ledger = tmp_path / "l.duckdb"
    out = cli(
        "cost", "ingest", str(path), "--ledger", str(ledger), "-o", "json", "-C", str(tmp_path)
    )
    assert out.exit_code == 0, out.stdout
    report = json.loads(out.stdout)["files"][0]["report"]
    assert report["focusVersion"] == report["detectedVersion"] == "1.3"
    assert report["errors"] == 0  # ProviderName and PublisherName are deprecated in 1.3
    with Ledger(ledger).connect(read_only=True) as con:
        names = con.execute(
            "SELECT ProviderName, ServiceProviderName, PublisherName, HostProviderName, "
            "x_FocusVersion FROM charges"
        ).fetchall()
    assert names == [("Model Hub", "Model Hub", "Cloud Inc.", "Cloud Inc.", "1.3")]


def test_forcing_a_version_checks_against_it(focus_sample: Path, tmp_path: Path, cli: Any) -> None:
    ledger = tmp_path / "l.duckdb"
    out = cli(
        "cost",
        "ingest",
        str(focus_sample),
        "--focus-version",
        "1.3",
        "--ledger",
        str(ledger),
        "-C",
        str(tmp_path),
    )
    assert out.exit_code == 0, out.stdout
    assert "FOCUS 1.3 (forced; the columns look like 1.0)" in out.stdout
    assert "column-missing" in out.stdout and "ServiceProviderName" in out.stdout
    with Ledger(ledger).connect(read_only=True) as con:
        (row,) = con.execute("SELECT DISTINCT ServiceProviderName FROM charges").fetchall()
    assert row == ("AWS",)  # filled from ProviderName
    bad = cli(
        "cost", "ingest", str(focus_sample), "--focus-version", "2.0", "--ledger", str(ledger)
    )
    assert bad.exit_code == 2 and "--focus-version" in bad.stderr


def test_unreadable_input_exits_2_and_writes_nothing(
    focus_sample: Path, tmp_path: Path, cli: Any
) -> None:
    folder = tmp_path / "exports" / "2026"
    folder.mkdir(parents=True)
    shutil.copyfile(focus_sample, folder / "a.csv")
    (folder / "b.csv").write_text("name,age\nada,36\n")  # a CSV, but not FOCUS
    ledger = tmp_path / "l.duckdb"
    out = cli("cost", "ingest", str(tmp_path / "exports"), "--ledger", str(ledger))
    assert out.exit_code == 2
    assert "b.csv: not a FOCUS 1.0 export" in out.stderr
    assert not ledger.exists()  # not even an empty ledger
    (folder / "b.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff\xfe")
    out = cli("cost", "ingest", str(folder / "b.csv"), "--ledger", str(ledger))
    assert out.exit_code == 2 and "b.csv" in out.stderr
    torn = folder / "torn.csv"  # a FOCUS header, then a record with a field too many
    lines = focus_sample.read_text(encoding="utf-8").splitlines()
    torn.write_text("\n".join([*lines[:50], lines[50] + ",extra", *lines[51:60]]) + "\n")
    out = cli("cost", "ingest", str(torn), "--ledger", str(ledger))
    assert out.exit_code == 2 and "torn.csv: not a readable CSV file" in out.stderr
    assert not ledger.exists()
    missing = cli("cost", "ingest", str(tmp_path / "nope.csv"), "--ledger", str(ledger))
    assert missing.exit_code == 2 and "nope.csv: no such file or folder" in missing.stderr
    # an existing ledger keeps what it had
    assert cli("cost", "ingest", str(focus_sample), "--ledger", str(ledger)).exit_code == 0
    out = cli("cost", "ingest", str(tmp_path / "exports"), "--ledger", str(ledger), "-o", "json")
    assert out.exit_code == 2 and json.loads(out.stdout)["error"] == "InputError"
    assert _count(ledger) == 942 and _count(ledger, "ingests") == 1


def test_strict_refuses_with_exit_1(tmp_path: Path, cli: Any) -> None:
    good = focus_file(tmp_path / "good.csv", [{"Tags": "{}"}])
    bad = focus_file(tmp_path / "bad.csv", [{"ChargeCategory": "Refund", "BilledCost": "n/a"}])
    ledger = tmp_path / "l.duckdb"
    out = cli("cost", "ingest", str(good), str(bad), "--strict", "--ledger", str(ledger))
    assert out.exit_code == 1
    assert "refused" in out.stdout and "value-not-allowed" in out.stdout
    assert "nothing was ingested" in out.stdout
    assert not ledger.exists()
    out = cli("cost", "ingest", str(good), str(bad), "--ledger", str(ledger), "-o", "json")
    assert out.exit_code == 0
    statuses = [f["status"] for f in json.loads(out.stdout)["files"]]
    assert statuses == ["ingested", "ingested"]
    assert _count(ledger) == 2


def test_folders_are_read_recursively_in_order_across_formats(
    focus_sample: Path, tmp_path: Path, cli: Any
) -> None:
    exports = tmp_path / "exports"
    (exports / "b").mkdir(parents=True)
    focus_file(exports / "b" / "z.csv", [{"ChargeDescription": "z"}])
    focus_file(exports / "a.csv", [{"ChargeDescription": "a"}])
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_csv('{exports / 'a.csv'}', all_varchar = true) "
        f"UNION ALL SELECT * REPLACE ('p' AS ChargeDescription) "
        f"FROM read_csv('{exports / 'a.csv'}', all_varchar = true)) "
        f"TO '{exports / 'b' / 'p.parquet'}' (FORMAT parquet)"
    )
    con.close()
    (exports / "notes.txt").write_text("not an export")
    ledger = tmp_path / "l.duckdb"
    out = cli("cost", "ingest", str(exports), "--ledger", str(ledger), "-o", "json")
    assert out.exit_code == 0, out.stdout
    files = json.loads(out.stdout)["files"]
    assert [Path(f["path"]).name for f in files] == ["a.csv", "p.parquet", "z.csv"]
    assert [f["format"] for f in files] == ["csv", "parquet", "csv"]
    text = cli("cost", "ingest", str(exports), "--ledger", str(ledger))
    assert "0 of 3 files ingested" in text.stdout
    with Ledger(ledger).connect(read_only=True) as con2:
        rows = con2.execute(
            "SELECT ChargeDescription, x_IngestId FROM charges ORDER BY x_IngestId, x_RowNumber"
        ).fetchall()
    assert rows == [("a", 1), ("a", 2), ("p", 2), ("z", 3)]
