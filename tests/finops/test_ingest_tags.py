"""Tags: keys trimmed and case-folded into x_Tags (original text kept), collisions
reported, and the governed keys turned into the model, team, env, activity and cost
center columns."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import duckdb

from alignops.finops.ingest import ingest_paths
from alignops.finops.ledger import Ledger
from alignops.finops.tags import governed_candidates, normalize_key
from alignops.manifests.config import FinopsSettings

MANDATORY_12 = {
    "BilledCost": "1.25",
    "EffectiveCost": "1.00",
    "ListCost": "1.50",
    "ContractedCost": "1.00",
    "PricingQuantity": "1",
    "PricingUnit": "Hours",
    "ChargePeriodStart": "2026-11-01T00:00:00Z",
    "ChargePeriodEnd": "2026-11-01T01:00:00Z",
    "BillingPeriodStart": "2026-11-01T00:00:00Z",
    "BillingPeriodEnd": "2026-12-01T00:00:00Z",
    "BillingAccountId": "acct-1",
    "BillingAccountName": "Fraud ML",
    "BillingCurrency": "EUR",
    "ChargeCategory": "Usage",
    "ChargeClass": "",
    "ChargeDescription": "GPU hour",
    "InvoiceIssuerName": "Cloud Inc.",
    "ProviderName": "Cloud Inc.",
    "PublisherName": "Cloud Inc.",
    "ServiceCategory": "AI and Machine Learning",
    "ServiceName": "Inference",
    "InvoiceId": "INV-7",
}


def focus_file(path: Path, rows: list[dict[str, str]], drop: tuple[str, ...] = ()) -> Path:
    """A FOCUS 1.2 CSV: every mandatory column, plus what each row adds."""
    header = [c for c in MANDATORY_12 if c not in drop]
    for row in rows:
        header += [c for c in row if c not in header]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: v for c, v in {**MANDATORY_12, **row}.items() if c in header})
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _ledger_rows(ledger: Ledger) -> list[dict[str, Any]]:
    with ledger.connect(read_only=True) as con:
        cursor = con.execute("SELECT * FROM charges ORDER BY x_RowNumber")
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_keys_are_normalized_collisions_reported_and_dimensions_typed(
    tmp_path: Path, ledger: Ledger
) -> None:
    tags = [
        {" Team ": " Fraud Platform ", "TEAM": "other", "Env": "prod", "user:Model": "fraud-v2"},
        {"owner": "risk", "Stage": "staging", "Activity": "explainability", "cost_center": 42},
        {"team": " ", "owner": "ml-ops", "aws:createdBy": "someone", "business_unit": "bu"},
        {},
    ]
    path = focus_file(tmp_path / "tags.csv", [{"Tags": json.dumps(t)} for t in tags])
    (result,) = ingest_paths(ledger, [path], governed_tags=FinopsSettings().governed_tags)
    (collision,) = [p for p in result.report.problems if p.rule == "tags-key-collision"]
    assert (collision.severity, collision.count, collision.lines) == ("warning", 1, (2,))
    assert not result.report.errors

    first, second, third, empty = _ledger_rows(ledger)
    assert json.loads(first["Tags"]) == tags[0]  # the original text is kept
    assert json.loads(first["x_Tags"]) == {
        "team": " Fraud Platform ",  # the first of ' Team ' and 'TEAM'
        "env": "prod",
        "user:model": "fraud-v2",
    }
    assert (first["x_Team"], first["x_Environment"], first["x_Model"]) == (
        "Fraud Platform",  # trimmed, case kept
        "prod",
        "fraud-v2",  # user:model matches the governed key model
    )
    assert (second["x_Team"], second["x_Environment"], second["x_Activity"]) == (
        "risk",
        "staging",
        "explainability",
    )
    assert second["x_CostCenter"] == "42"
    assert json.loads(second["x_Tags"])["cost_center"] == 42  # values kept as they are
    # a blank value counts as none: the next key (owner) gives the team
    assert third["x_Team"] == "ml-ops" and third["x_Model"] is None
    assert "aws:createdby" in json.loads(third["x_Tags"])
    assert empty["x_Tags"] == "{}" and empty["x_Team"] is None


def test_configured_governed_keys_and_explicit_columns(tmp_path: Path, ledger: Ledger) -> None:
    settings = FinopsSettings.model_validate(
        {"governedTags": {"team": ["Squad"], "model": ["ml-model"]}}
    )
    rows = [
        {"Tags": json.dumps({"squad": "a", "team": "ignored", "ML-Model": "m1"}), "x_Team": ""},
        {"Tags": json.dumps({"squad": "a"}), "x_Team": "explicit"},
        {"Tags": "", "x_Team": "no tags"},
    ]
    path = focus_file(tmp_path / "conf.csv", rows)
    ingest_paths(ledger, [path], governed_tags=settings.governed_tags)
    first, second, third = _ledger_rows(ledger)
    assert (first["x_Team"], first["x_Model"]) == ("a", "m1")
    assert second["x_Team"] == "explicit"  # the file's own x_Team column wins over tags
    assert third["x_Team"] == "no tags" and third["x_Tags"] is None


def test_sql_and_python_normalize_keys_alike(tmp_path: Path, ledger: Ledger) -> None:
    keys = [" Team", "ÉQUIPE\t", "\nCost-Center ", "Ünit", "aws:CreatedBy", "user:Owner"]
    path = focus_file(tmp_path / "keys.csv", [{"Tags": json.dumps(dict.fromkeys(keys, "v"))}])
    ingest_paths(ledger, [path], governed_tags=FinopsSettings().governed_tags)
    (row,) = _ledger_rows(ledger)
    assert list(json.loads(row["x_Tags"])) == [normalize_key(k) for k in keys]
    assert governed_candidates(["Team", "user:team"]) == ["team", "user:team"]


def test_parquet_map_tags_are_read_as_json(tmp_path: Path, ledger: Ledger) -> None:
    source = focus_file(tmp_path / "m.csv", [{"Tags": "x"}])
    target = tmp_path / "m.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * REPLACE (MAP {{'Team': 'risk', 'env': 'dev'}} AS Tags) "
        f"FROM read_csv('{source}', all_varchar = true)) TO '{target}' (FORMAT parquet)"
    )
    con.close()
    (result,) = ingest_paths(ledger, [target], governed_tags=FinopsSettings().governed_tags)
    assert result.format == "parquet" and not result.report.errors
    (row,) = _ledger_rows(ledger)
    assert json.loads(row["x_Tags"]) == {"team": "risk", "env": "dev"}
    assert (row["x_Team"], row["x_Environment"], row["x_RowNumber"]) == ("risk", "dev", 2)
