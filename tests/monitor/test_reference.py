"""Where a deployment's reference profile comes from, per revision: the drift evidence the
revision was gated on, else the model's reference data at that revision; and why there
is none when there is none."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from sklearn.tree import DecisionTreeClassifier

from alignops.evidence.checks.drift import DriftConfig
from alignops.evidence.collect import EvidenceRequest, collect
from alignops.evidence.profile import Profile
from alignops.evidence.store import EvidenceStore
from alignops.monitor.reference import ReferenceProfiles
from tests.conftest import Repo
from tests.monitor.test_windows import (
    DATA,
    FEATURES,
    NOON,
    SECOND,
    World,
    build_world,
    census_rows,
    one_row_requests,
)
from tests.monitor.test_windows import (
    world as world,
)

EVALUATED_MODEL = """\
apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: employment
spec:
  version: "1.1.0"
  artifact:
    uri: models/employment.skops
    sha256: "{sha256}"
  datasets:
    training: acs-reference
    evaluation: acs-2018
  features: [{features}]
"""

EVALUATION = """\
---
apiVersion: alignops.dev/v1alpha1
kind: Dataset
metadata:
  name: acs-2018
spec:
  uri: data/evaluation.parquet
  sha256: "{sha256}"
  role: evaluation
  label: employed
  protectedAttributes: [SEX, RAC1P, AGEP]
"""


def test_the_reference_is_built_from_the_models_data_at_that_revision(world: World) -> None:
    references = ReferenceProfiles(world.repo.git)
    reference = references.get("employment-api", world.revision)
    assert reference.profile == Profile.build(world.reference[FEATURES], FEATURES)
    assert reference.model == "employment" and reference.problem is None
    assert reference.protected == ("SEX", "RAC1P")
    assert reference.positive == "1"
    assert reference.source == f"dataset acs-reference at {world.revision[:12]}"
    assert references.get("employment-api", world.revision) is reference  # cached


def test_a_later_revision_has_its_own_reference(world: World) -> None:
    smaller = world.reference.iloc[:2000]
    smaller.to_parquet(world.repo.path / "data" / "reference.parquet")
    digest = hashlib.sha256((world.repo.path / "data" / "reference.parquet").read_bytes())
    text = (world.repo.path / "datasets" / "acs.yaml").read_text()
    old = text.split('sha256: "')[1].split('"')[0]
    world.repo.write("datasets/acs.yaml", text.replace(old, digest.hexdigest()))
    later = world.repo.commit("a smaller reference")
    references = ReferenceProfiles(world.repo.git)
    first = references.get("employment-api", world.revision).profile
    second = references.get("employment-api", later).profile
    assert first is not None and second is not None
    assert (first.rows, second.rows) == (6000, 2000)


@pytest.fixture
def gated(repo: Repo) -> Iterator[tuple[World, EvidenceStore]]:
    """The world with a real model, its evaluation data, and drift evidence on two
    features recorded for the revision on the evidence ref (as ``alignops check`` does)."""
    world = build_world(repo)
    categorical = [f for f in FEATURES if f != "AGEP"]
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        (
                            "codes",
                            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                            categorical,
                        ),
                        ("age", "passthrough", ["AGEP"]),
                    ]
                ),
            ),
            ("model", DecisionTreeClassifier(max_depth=4, random_state=0)),
        ]
    ).fit(world.reference[FEATURES], world.reference["employed"])
    data = sio.dumps(model)
    repo.write("models/employment.skops", "")
    (repo.path / "models" / "employment.skops").write_bytes(data)
    repo.write(
        "models/employment.yaml",
        EVALUATED_MODEL.format(
            sha256=hashlib.sha256(data).hexdigest(), features=", ".join(FEATURES)
        ),
    )
    evaluation = pd.read_parquet(DATA / "production-2018.parquet").iloc[:3000]
    evaluation.to_parquet(repo.path / "data" / "evaluation.parquet")
    digest = hashlib.sha256((repo.path / "data" / "evaluation.parquet").read_bytes()).hexdigest()
    with (repo.path / "datasets" / "acs.yaml").open("a") as handle:
        handle.write(EVALUATION.format(sha256=digest))
    world.revision = repo.commit("evaluated model")
    store = EvidenceStore(repo.path / ".alignops" / "evidence", repository=repo.git)
    snapshot = repo.git.snapshot(world.revision)
    bundle = collect(
        snapshot,
        snapshot.resources["Model/employment"],
        [EvidenceRequest("drift", DriftConfig(features=("AGEP", "SCHL")))],
        store=store,
    )
    (item,) = bundle.items.values()
    assert item.error is None, item.error
    store.record_revision(
        world.revision, [{"model": "employment", "check": "drift", "key": item.key}]
    )
    try:
        yield world, store
    finally:
        world.db.close()


def test_the_drift_evidence_of_the_revision_is_preferred(
    gated: tuple[World, EvidenceStore], tmp_path: Path
) -> None:
    world, _ = gated
    # A store that has only the repository: the evidence is read from the evidence ref.
    store = EvidenceStore(tmp_path / "empty-cache", repository=world.repo.git)
    reference = ReferenceProfiles(world.repo.git, evidence=store).get(
        "employment-api", world.revision
    )
    assert reference.profile is not None
    assert list(reference.profile.features) == ["AGEP", "SCHL"]
    assert reference.profile == Profile.build(world.reference[["AGEP", "SCHL"]], ["AGEP", "SCHL"])
    assert reference.source is not None and reference.source.startswith("evidence ")
    # Protected attributes from the evaluation Dataset first, then the training one.
    assert reference.protected == ("SEX", "RAC1P", "AGEP")
    assert reference.positive is None  # left to the model's classes in its answers
    # Windows count live rows in the evidence's bins only.
    rows = census_rows(2018, 300)
    world.segment(one_row_requests(rows, NOON, SECOND))
    from alignops.monitor.windows import load_windows, update_windows

    update_windows(
        state_dir=world.state_dir,
        database=world.db,
        references=ReferenceProfiles(world.repo.git, evidence=store),
        window_seconds=3600,
    )
    (window,) = load_windows(world.db)
    assert list(window.features) == ["AGEP", "SCHL"]
    # AGEP is read as text too (it is a protected attribute): the same bins all the same.
    live = reference.profile.count(pd.DataFrame(rows))
    assert {n: f.counts for n, f in window.features.items()} == {
        n: f.counts for n, f in live.features.items()
    }
    assert window.reference == reference.source
    assert set(window.selections) == {"SEX", "RAC1P", "AGEP"}
    assert sum(r for r, _ in window.selections["AGEP"].values()) == 300


def test_without_evidence_the_data_is_used(gated: tuple[World, EvidenceStore]) -> None:
    world, _ = gated
    reference = ReferenceProfiles(world.repo.git, evidence=EvidenceStore()).get(
        "employment-api", world.revision
    )
    assert reference.profile is not None and len(reference.profile.features) == len(FEATURES)
    assert reference.source == f"dataset acs-reference at {world.revision[:12]}"


def test_why_there_is_no_reference(world: World) -> None:
    references = ReferenceProfiles(world.repo.git)
    assert references.get("nothing", world.revision).problem == (
        f"nothing is not declared at revision {world.revision[:12]}"
    )
    scorer = references.get("scorer", world.revision)  # the scaffold's ServerlessFunction
    assert scorer.problem == "scorer is a ServerlessFunction: it serves no model"
    unknown = references.get("employment-api", "0" * 40)
    assert unknown.profile is None and unknown.problem is not None
    assert unknown.problem.startswith("revision 000000000000 cannot be read: unknown revision")
    # The data file changed but its pinned digest did not: refused, with where.
    (world.repo.path / "data" / "reference.parquet").write_bytes(b"changed")
    changed = world.repo.commit("data changed behind the digest")
    bad = references.get("employment-api", changed)
    assert bad.profile is None and bad.problem is not None
    assert "datasets/acs.yaml" in bad.problem and "sha256" in bad.problem
    assert bad.protected == ("SEX", "RAC1P")  # fairness is still counted
    # No reference data named.
    text = (world.repo.path / "models" / "employment.yaml").read_text()
    world.repo.write(
        "models/employment.yaml", text.replace("  datasets:\n    training: acs-reference\n", "")
    )
    bare = world.repo.commit("no datasets")
    assert references.get("employment-api", bare).problem == (
        "model employment names no reference or training dataset"
    )
