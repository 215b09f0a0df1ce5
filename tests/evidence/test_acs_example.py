"""Acceptance on real census data: the acs-employment example end to end.

One repository is scaffolded for the module (it trains two models) and gated; the tests
read the verdicts, the evidence ref, the reports and the usage records.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from alignops.cli.approve import write_approval
from alignops.evidence.store import EVIDENCE_REF
from alignops.scaffold import scaffold
from alignops.source import ConfigRepository
from tests.conftest import run_alignops

FEATURES = [
    "AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY",
    "DEAR", "DEYE", "DREM", "SEX", "RAC1P",
]  # fmt: skip


@dataclass
class Example:
    path: Path
    repo: ConfigRepository
    first: dict[str, Any]
    db: str

    def check(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = run_alignops(
            "check", *args, "-o", "json", "--db", self.db, cwd=self.path, timeout=300
        )
        assert result.returncode in (0, 1), result.stderr
        return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Example:
    path = tmp_path_factory.mktemp("acs") / "repo"
    repo = scaffold(path, template="acs-employment")
    db = f"sqlite:///{path.parent / 'state.db'}"
    result = run_alignops("check", "HEAD", "-o", "json", "--db", db, cwd=path, timeout=600)
    assert result.returncode == 1, result.stderr
    return Example(path, repo, json.loads(result.stdout), db)


def findings(verdict: dict[str, Any], model: str) -> list[dict[str, Any]]:
    return [f for f in verdict["findings"] if f["resource"] == f"Model/{model}"]


def evidence(verdict: dict[str, Any], model: str, check: str) -> dict[str, Any]:
    (item,) = [e for e in verdict["evidence"][model] if e["check"] == check]
    return item


def test_biased_model_is_denied_with_measured_disparity_and_threshold(example: Example) -> None:
    bias = [
        f
        for f in findings(example.first, "employment-baseline")
        if f["rule"].endswith("bias-detection")
    ]
    assert len(bias) == 1
    message = bias[0]["message"]
    measured = evidence(example.first, "employment-baseline", "fairness")["metrics"]["attributes"][
        "RAC1P"
    ]["dpDifference"]
    assert measured > 0.05
    assert message.startswith(
        f"demographic parity difference by RAC1P is {measured:.3f}, over maxDisparity 0.05"
    )
    assert bias[0]["details"]["measured"] == pytest.approx(measured)
    assert bias[0]["details"]["threshold"] == 0.05


def test_mitigated_model_meets_the_evidence_requirements(example: Example) -> None:
    denied = {
        f["rule"].rsplit(".", 1)[1]
        for f in findings(example.first, "employment-fair")
        if f["severity"] == "deny"
    }
    assert denied == {"approval"}  # only the signatures are missing
    fairness = evidence(example.first, "employment-fair", "fairness")["metrics"]["attributes"]
    assert fairness["RAC1P"]["dpDifference"] <= 0.05 and fairness["SEX"]["dpDifference"] <= 0.05


def test_mitigated_model_passes_once_two_groups_approved(example: Example) -> None:
    keys = example.path / ".alignops" / "keys"
    write_approval(
        example.repo,
        "Model/employment-fair",
        (keys / "ada").read_bytes(),
        group="ai-ethics-committee",
    )
    code, verdict = example.check()  # one approval: still denied
    assert code == 1
    (missing,) = [f for f in findings(verdict, "employment-fair") if f["rule"].endswith("approval")]
    assert (
        "legal-compliance" in missing["message"]
        and "ada (ai-ethics-committee)" in missing["message"]
    )
    write_approval(
        example.repo, "Model/employment-fair", (keys / "lin").read_bytes(), group="legal-compliance"
    )
    example.repo.commit_all("approve employment-fair")
    code, verdict = example.check("HEAD")
    assert [f for f in findings(verdict, "employment-fair") if f["severity"] == "deny"] == []
    assert verdict["approvals"]["employment-fair"]["high-risk-model-policy"]["counted"] == {
        "ada": "ai-ethics-committee",
        "lin": "legal-compliance",
    }
    assert code == 1  # the baseline is still in the revision


def test_psi_per_feature_2018_vs_2015_is_reported_and_correct(example: Example) -> None:
    drift = evidence(example.first, "employment-fair", "drift")["metrics"]
    assert drift["current"] == "acs-production-2018" and drift["reference"] == "acs-reference-2015"
    assert set(drift["psi"]) == set(FEATURES)
    data = example.path / "data"
    reference = pd.read_parquet(data / "reference-2015.parquet")
    current = pd.read_parquet(data / "production-2018.parquet")
    for feature in ("AGEP", "ANC", "SCHL", "SEX"):
        assert drift["psi"][feature] == pytest.approx(
            _reference_psi(reference[feature], current[feature]), abs=1e-12
        )
    assert max(drift["psi"], key=drift["psi"].get) == "ANC"


def _reference_psi(reference: pd.Series, current: pd.Series) -> float:
    """PSI as DESIGN.md defines it, written out plainly."""
    if isinstance(reference.dtype, pd.CategoricalDtype) or reference.dtype == object:
        ref, cur = reference.astype(str), current.astype(str)
        categories = sorted(ref.unique())
        e = [float((ref == c).mean()) for c in categories] + [0.0]
        a = [float((cur == c).mean()) for c in categories] + [float((~cur.isin(categories)).mean())]
    else:
        edges = np.unique(np.quantile(reference.to_numpy(dtype=float), np.arange(1, 10) / 10))
        e = list(
            np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
            / len(reference)
        )
        a = list(
            np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
            / len(current)
        )
    total = 0.0
    for ei, ai in zip(e, a, strict=True):
        ei, ai = max(ei, 1e-4), max(ai, 1e-4)
        total += (ai - ei) * np.log(ai / ei)
    return total


def test_explainability_pdf_renders_with_score_and_charts(example: Example, tmp_path: Path) -> None:
    item = evidence(example.first, "employment-fair", "explainability")
    score = item["metrics"]["score"]
    assert item["metrics"]["valid"] and score >= 0.85
    result = run_alignops(
        "evidence",
        "show",
        "HEAD",
        "--model",
        "employment-fair",
        "--report",
        str(tmp_path),
        cwd=example.path,
    )
    assert result.returncode == 0, result.stderr
    pdf = tmp_path / "employment-fair-explainability.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "Explainability score" in text and f"{score:.3f}" in text
    assert (
        "Global importance" in text
        and "Surrogate decision tree" in text
        and "Local explanations" in text
    )
    blue = red = 0
    for page in pages:
        pixels = np.asarray(Image.open(page).convert("RGB")).reshape(-1, 3).astype(int)
        blue += int(
            np.sum(
                (abs(pixels[:, 0] - 0x25) < 30)
                & (abs(pixels[:, 1] - 0x63) < 30)
                & (pixels[:, 2] > 200)
            )
        )
        red += int(np.sum((pixels[:, 0] > 200) & (pixels[:, 1] < 70) & (pixels[:, 2] < 70)))
    assert blue > 500, "the importance bars are drawn"
    assert red > 50, "negative contributions are drawn in the local explanations"


def test_evidence_is_versioned_with_the_revision(example: Example) -> None:
    head = example.first["revision"]
    index = json.loads(example.repo.read_ref_file(EVIDENCE_REF, f"revisions/{head}.json") or b"[]")
    keys = {(e["model"], e["check"]): e["key"] for e in index}
    assert ("employment-fair", "fairness") in keys
    stored = example.repo.read_ref_file(
        EVIDENCE_REF, f"evidence/{keys['employment-fair', 'explainability']}/explainability.pdf"
    )
    assert stored is not None and stored.startswith(b"%PDF")


def test_second_check_is_all_cache_hits_and_costs_nothing(example: Example) -> None:
    first_usage = example.first["usage"]
    assert {u["activity"] for u in first_usage} == {
        "fairness-audit",
        "explainability",
        "drift-monitoring",
    }
    assert all(u["cpuSeconds"] > 0 and u["wallSeconds"] > 0 for u in first_usage)
    assert {u["model"] for u in first_usage} == {"employment-baseline", "employment-fair"}
    _, again = example.check("HEAD~0")
    assert again["usage"] == []
    assert all(e["cached"] for items in again["evidence"].values() for e in items)


def test_pinned_files_are_hashed_once_per_blob(example: Example) -> None:
    import hashlib

    snapshot = example.repo.snapshot("HEAD")
    verified = example.path / ".alignops" / "evidence" / "verified"
    for path in ("models/employment-fair/model.skops", "data/production-2018.parquet"):
        memo = verified / snapshot.files[path]
        assert memo.read_text() == hashlib.sha256(snapshot.read(path)).hexdigest()


def test_a_fresh_clone_reads_evidence_from_the_ref(example: Example, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(example.path), str(clone)], check=True)
    subprocess.run(
        ["git", "-C", str(clone), "fetch", "-q", "origin", f"{EVIDENCE_REF}:{EVIDENCE_REF}"],
        check=True,
    )
    result = run_alignops("evidence", "show", example.first["revision"], "-o", "json", cwd=clone)
    shown = json.loads(result.stdout)
    items = shown["employment-baseline"]["evidence"]
    assert all(i["metrics"] is not None and i["cached"] for i in items)


def test_usage_is_recorded_for_the_ledger(example: Example) -> None:
    from alignops.evidence.usage import list_usage
    from alignops.store import Database

    rows = list_usage(Database(example.db), model="employment-fair")
    assert {r["activity"] for r in rows} >= {"fairness-audit", "explainability", "drift-monitoring"}
    assert all(r["cpu_seconds"] > 0 for r in rows)


def test_a_changed_model_file_is_denied_never_silently_used(
    example: Example, tmp_path: Path
) -> None:
    clone = tmp_path / "tamper"
    subprocess.run(["git", "clone", "-q", str(example.path), str(clone)], check=True)
    artifact = clone / "models" / "employment-fair" / "model.skops"
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    result = run_alignops("check", "-o", "json", cwd=clone, timeout=300)
    verdict = json.loads(result.stdout)
    fair = findings(verdict, "employment-fair")
    assert result.returncode == 1
    evidence_findings = [f for f in fair if not f["rule"].endswith("approval")]
    assert evidence_findings and all(
        "but the manifest pins" in f["message"] for f in evidence_findings
    )


def test_policies_see_the_evidence(example: Example) -> None:
    fairness = evidence(example.first, "employment-fair", "fairness")["metrics"]["attributes"]
    expected = [
        a
        for a, r in fairness.items()
        if r["interval"]["dpDifference"][1] > 0.05 >= r["dpDifference"]
    ]
    warned = [
        f["message"]
        for f in findings(example.first, "employment-fair")
        if f["rule"] == "team.evidence.warn"
    ]
    assert len(warned) == len(expected)
    for attribute, message in zip(sorted(expected), sorted(warned), strict=True):
        assert f"by {attribute} passes ({fairness[attribute]['dpDifference']:.3f})" in message
