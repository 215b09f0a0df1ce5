"""Fail closed: whatever goes wrong with a model, its data or a check is a deny with the
reason — never a pass, never a silent reload. Also the loading rules (skops trust, pickle
only when trusted, MLflow folders, the artifact store, CSV data) and the requirement
judges on a small real model."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from alignops.evidence.checks import CHECKS, CheckResult, CheckSpec, EvidenceInputs
from alignops.gate import Verdict, check
from tests.conftest import Repo

FEATURES = ["x1", "x2", "group"]

MODEL = """\
apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: scorer
spec:
  version: "1.0.0"
  task: classification
  riskLevel: high
  artifact:
    uri: {uri}
    sha256: "{sha256}"
    format: {format}{extra}
  datasets:
    training: train
    evaluation: holdout
  features: [x1, x2, group]
"""

DATASETS = """\
apiVersion: alignops.dev/v1alpha1
kind: Dataset
metadata:
  name: train
spec:
  uri: data/train.csv
  sha256: "{train}"
  role: training
  label: y
  protectedAttributes: [group]
---
apiVersion: alignops.dev/v1alpha1
kind: Dataset
metadata:
  name: holdout
spec:
  uri: data/holdout.csv
  sha256: "{holdout}"
  role: evaluation
  label: y
  protectedAttributes: [group]
"""

POLICY = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeploymentPolicy
metadata:
  name: scorer-policy
spec:
  modelName: scorer
  requirements:
{requirements}
"""

BIAS = """\
    - type: BiasDetection
      maxDisparity: {max}
      metric: {metric}
      gateOn: {gate_on}
      minGroupSize: 10"""


def _data(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n)
    x1 = rng.normal(size=n) + 0.8 * group
    x2 = rng.normal(size=n)
    y = (x1 + 0.5 * x2 + rng.normal(scale=0.5, size=n) > 0.4).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "group": group, "y": y})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class World:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        train, holdout = _data(1, 2000), _data(2, 1000)
        self.train_csv = train.to_csv(index=False).encode()
        self.holdout_csv = holdout.to_csv(index=False).encode()
        self.estimator = LogisticRegression().fit(train[FEATURES], train["y"])
        self.holdout = holdout
        self.write_bytes("data/train.csv", self.train_csv)
        self.write_bytes("data/holdout.csv", self.holdout_csv)
        self.datasets(_sha(self.train_csv), _sha(self.holdout_csv))
        self.model_bytes = sio.dumps(self.estimator)
        self.write_bytes("models/scorer.skops", self.model_bytes)
        self.model("models/scorer.skops", _sha(self.model_bytes), "skops")
        self.policy(BIAS.format(max=0.5, metric="DemographicParity", gate_on="point"))

    def write_bytes(self, relative: str, data: bytes) -> None:
        target = self.repo.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def datasets(self, train: str, holdout: str) -> None:
        self.repo.write("datasets/data.yaml", DATASETS.format(train=train, holdout=holdout))

    def model(self, uri: str, sha256: str, fmt: str, extra: str = "") -> None:
        self.repo.write(
            "models/scorer.yaml", MODEL.format(uri=uri, sha256=sha256, format=fmt, extra=extra)
        )

    def policy(self, *requirements: str) -> None:
        self.repo.write(
            "policies/scorer-policy.yaml", POLICY.format(requirements="\n".join(requirements))
        )

    def check(self) -> Verdict:
        self.repo.commit("change")
        return check(self.repo.git.snapshot(None))


@pytest.fixture
def world(repo: Repo) -> World:
    return World(repo)


def scorer_denials(verdict: Verdict) -> list[str]:
    return [f.message for f in verdict.denied if f.resource == "Model/scorer"]


def test_the_model_passes_when_all_is_well(world: World) -> None:
    verdict = world.check()
    assert scorer_denials(verdict) == []
    (fairness,) = [e for e in verdict.evidence["scorer"] if e["check"] == "fairness"]
    measured = fairness["metrics"]["attributes"]["group"]["dpDifference"]
    y_pred = world.estimator.predict(world.holdout[FEATURES])
    rates = pd.Series(y_pred).groupby(world.holdout["group"]).mean()
    assert measured == pytest.approx(rates.max() - rates.min(), abs=1e-12)


def test_missing_dataset_is_a_deny(world: World) -> None:
    (world.repo.path / "data" / "holdout.csv").unlink()
    messages = scorer_denials(world.check())
    assert messages
    assert all("data/holdout.csv is not in the repository" in m for m in messages)


def test_wrong_dataset_digest_is_a_deny(world: World) -> None:
    world.datasets(_sha(world.train_csv), "0" * 64)
    messages = scorer_denials(world.check())
    assert messages
    assert all(
        f"data/holdout.csv has sha256 {_sha(world.holdout_csv)}, but the manifest pins {'0' * 64}"
        in m
        for m in messages
    )


def test_wrong_model_digest_is_a_deny(world: World) -> None:
    world.model("models/scorer.skops", "f" * 64, "skops")
    messages = scorer_denials(world.check())
    assert messages and all("but the manifest pins " + "f" * 64 in m for m in messages)


def test_corrupt_model_file_is_a_deny(world: World) -> None:
    corrupt = world.model_bytes[: len(world.model_bytes) // 2]
    world.write_bytes("models/scorer.skops", corrupt)
    world.model("models/scorer.skops", _sha(corrupt), "skops")
    messages = scorer_denials(world.check())
    assert messages and all("cannot load the skops file" in m for m in messages)


def test_a_model_that_cannot_predict_is_a_deny(world: World) -> None:
    # The model was trained on other columns than the ones the manifest gives it.
    narrow = LogisticRegression().fit(world.holdout[["x1", "x2"]], world.holdout["y"])
    data = sio.dumps(narrow)
    world.write_bytes("models/scorer.skops", data)
    world.model("models/scorer.skops", _sha(data), "skops")
    messages = scorer_denials(world.check())
    assert messages
    assert all("model scorer failed to predict on holdout" in m for m in messages)


def test_a_crashing_check_is_a_deny(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(inputs: EvidenceInputs, config: object) -> CheckResult:
        return CheckResult({"ratio": 1 / 0})

    spec = CHECKS["fairness"]
    monkeypatch.setitem(CHECKS, "fairness", CheckSpec(spec.name, spec.activity, spec.config, crash))
    (message,) = scorer_denials(world.check())
    assert message.startswith("BiasDetection: evidence could not be produced")
    assert "the fairness check crashed: ZeroDivisionError: division by zero" in message


def test_pickle_loads_only_when_trusted(world: World) -> None:
    data = pickle.dumps(world.estimator)
    world.write_bytes("models/scorer.pkl", data)
    world.model("models/scorer.pkl", _sha(data), "pickle")
    messages = scorer_denials(world.check())
    assert messages and all("pickle files run code when loaded" in m for m in messages)
    world.model("models/scorer.pkl", _sha(data), "pickle", "\n    trusted: true")
    assert scorer_denials(world.check()) == []


def scaled(x: np.ndarray) -> np.ndarray:
    """A user's own preprocessing function: code skops will not load unless trusted."""
    return np.asarray(x) * 2.0


SCALED = f"{__name__}.scaled"


def test_skops_refuses_types_nobody_trusted(world: World) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipeline = make_pipeline(FunctionTransformer(scaled), LogisticRegression())
    pipeline.fit(world.holdout[FEATURES], world.holdout["y"])
    data = sio.dumps(pipeline)
    world.write_bytes("models/scorer.skops", data)
    world.model("models/scorer.skops", _sha(data), "skops")
    messages = scorer_denials(world.check())
    assert messages and all(f"types that are not trusted: {SCALED}" in m for m in messages)
    world.model("models/scorer.skops", _sha(data), "skops", f"\n    trustedTypes: [{SCALED}]")
    assert scorer_denials(world.check()) == []


def test_mlflow_model_folder_loads(world: World) -> None:
    folder = "models/mlflow-scorer"
    world.write_bytes(f"{folder}/model.skops", world.model_bytes)
    world.write_bytes(
        f"{folder}/MLmodel",
        b"flavors:\n  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n",
    )
    files = {"MLmodel": (world.repo.path / folder / "MLmodel").read_bytes()}
    files["model.skops"] = world.model_bytes
    lines = "".join(f"{p}\0{_sha(d)}\n" for p, d in sorted(files.items()))
    world.model(folder, _sha(lines.encode()), "mlflow")
    verdict = world.check()
    assert scorer_denials(verdict) == []
    assert verdict.evidence["scorer"][0]["metrics"] is not None


def test_artifact_store_model_is_digest_checked(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "artifacts"
    (store / "scorer").mkdir(parents=True)
    (store / "scorer" / "v1.skops").write_bytes(world.model_bytes)
    monkeypatch.setenv("ALIGNOPS_ARTIFACT_STORE", str(store))
    world.model("store://scorer/v1.skops", _sha(world.model_bytes), "skops")
    assert scorer_denials(world.check()) == []
    world.model("store://../escape.skops", _sha(world.model_bytes), "skops")
    messages = scorer_denials(world.check())
    assert messages and all("leaves the store" in m for m in messages)


def test_threshold_is_compared_with_the_measured_disparity(world: World) -> None:
    world.policy(BIAS.format(max=0.01, metric="DemographicParity", gate_on="point"))
    (message,) = scorer_denials(world.check())
    assert message.startswith("demographic parity difference by group is ")
    assert "over maxDisparity 0.01" in message


def test_upper_bound_gate_is_stricter_than_the_point_estimate(world: World) -> None:
    point = world.check()
    (fairness,) = [e for e in point.evidence["scorer"] if e["check"] == "fairness"]
    attribute = fairness["metrics"]["attributes"]["group"]
    _, high = attribute["interval"]["dpDifference"]
    between = round((attribute["dpDifference"] + high) / 2, 6)
    assert attribute["dpDifference"] < between < high
    world.policy(BIAS.format(max=between, metric="DemographicParity", gate_on="point"))
    assert scorer_denials(world.check()) == []
    world.policy(BIAS.format(max=between, metric="DemographicParity", gate_on="upperBound"))
    (message,) = scorer_denials(world.check())
    assert "upper bound" in message


def test_performance_threshold(world: World) -> None:
    world.policy("    - type: PerformanceThreshold\n      metric: accuracy\n      min: 0.99")
    (message,) = scorer_denials(world.check())
    assert "accuracy" in message and "0.99" in message
    world.policy("    - type: PerformanceThreshold\n      metric: rocAuc\n      min: 0.6")
    assert scorer_denials(world.check()) == []
