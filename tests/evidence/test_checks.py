"""The checks on small real models: what they report and when they refuse."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from alignops.errors import EvidenceError
from alignops.evidence.artifacts import LoadedDataset, LoadedModel
from alignops.evidence.checks import CHECKS, EvidenceInputs
from alignops.evidence.profile import Profile, psi_by_feature


def inputs(
    estimator: Any,
    evaluation: pd.DataFrame,
    features: list[str],
    *,
    reference: pd.DataFrame | None = None,
    task: str = "classification",
    label: str = "y",
) -> EvidenceInputs:
    def dataset(name: str, frame: pd.DataFrame) -> LoadedDataset:
        return LoadedDataset(name, "0" * 64, "evaluation", label, (), tuple(features), frame)

    return EvidenceInputs(
        model=LoadedModel("m", "0" * 64, "skops", estimator),
        evaluation=dataset("eval", evaluation),
        reference=dataset("ref", reference) if reference is not None else None,
        features=tuple(features),
        task=task,  # type: ignore[arg-type]
        seed=7,
    )


def run(name: str, data: EvidenceInputs, **config: Any) -> Any:
    spec = CHECKS[name]
    return spec.run(data, spec.config(**config))


def test_explainability_of_a_tree_model_is_valid_with_a_pdf(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(3000, 6)), columns=[f"f{i}" for i in range(6)])
    y = (X["f0"] + 0.5 * X["f1"] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0).fit(X, y)
    result = run("explainability", inputs(model, X.assign(y=y), list(X.columns)), sample=500)
    m = result.metrics
    assert m["valid"] and m["additivity"]["ok"] and m["explainer"] == "tree"
    assert m["score"] == m["fidelity"] > 0.85
    assert [g["feature"] for g in m["globalImportance"][:2]] == ["f0", "f1"]
    pdf = result.artifacts["explainability.pdf"]
    assert pdf.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"{m['score']:.3f}" in text


def test_explainability_is_invalid_when_the_top_features_are_unstable() -> None:
    # 40 features with equal weight: which 10 are "most important" is a coin toss.
    rng = np.random.default_rng(1)
    columns = [f"f{i}" for i in range(40)]
    X = pd.DataFrame(rng.normal(size=(2000, 40)), columns=columns)
    y = (X.sum(axis=1) + rng.normal(size=2000) > 0).astype(int)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    result = run("explainability", inputs(model, X.assign(y=y), columns), sample=300)
    m = result.metrics
    assert not m["valid"] and m["score"] is None
    assert any(r.startswith("top-10 features are unstable") for r in m["reasons"])
    assert m["stability"]["minJaccard"] < 0.8


def test_html_report_when_asked() -> None:
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(500, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    result = run("explainability", inputs(model, X.assign(y=y), ["a", "b", "c"]), format="HTML")
    assert b"<svg" in result.artifacts["explainability.html"]


def test_drift_check_reports_psi_per_feature_ranked() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.choice(["x", "y"], 5000)})
    current = pd.DataFrame({"a": rng.normal(0.5, 1, 4000), "b": rng.choice(["x", "y", "z"], 4000)})
    data = inputs(None, current, ["a", "b"], reference=reference)
    m = run("drift", data).metrics
    profile = Profile.build(reference, ["a", "b"])
    expected = psi_by_feature(profile, profile.count(current))
    assert m["psi"] == pytest.approx(expected, abs=1e-12)
    assert list(m["psi"]) == sorted(expected, key=lambda f: -expected[f])
    assert m["maxPsi"] == max(expected.values())
    assert Profile.from_dict(m["referenceProfile"]) == profile


def test_drift_without_reference_data_is_an_error() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(EvidenceError, match="names no training or reference dataset"):
        run("drift", inputs(None, frame, ["a"]))


def test_performance_of_a_regressor() -> None:
    rng = np.random.default_rng(4)
    X = pd.DataFrame(rng.normal(size=(1000, 2)), columns=["a", "b"])
    y = 3 * X["a"] - X["b"] + rng.normal(size=1000)
    model = LinearRegression().fit(X, y)
    m = run("performance", inputs(model, X.assign(y=y), ["a", "b"], task="regression")).metrics
    predicted = model.predict(X)
    assert m["rmse"] == pytest.approx(skm.root_mean_squared_error(y, predicted), abs=1e-12)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, predicted), abs=1e-12)
    assert "accuracy" not in m


def test_fairness_refuses_a_regressor() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "y": [0.5, 1.5]})
    model = LinearRegression().fit(frame[["a"]], frame["y"])
    with pytest.raises(EvidenceError, match="apply to classifiers"):
        run("fairness", inputs(model, frame, ["a"], task="regression"), attributes=("a",))
