"""The ``acs-employment`` example: two real models trained on census data at ``init``.

Both predict whether a Massachusetts resident is employed (US Census ACS PUMS, 2015)
with gradient-boosted trees over age and census codes. ``employment-baseline`` uses the
data as it is and selects people of different races at visibly different rates;
``employment-fair`` is the same model with one decision threshold per (SEX, RAC1P)
group, chosen on the training data so every group is selected at the same rate
(post-processing for demographic parity). Training is deterministic; it takes a few
seconds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from alignops.approvals.sshsig import generate_ed25519

LABEL = "employed"
PROTECTED = ("SEX", "RAC1P")
NUMERIC = ("AGEP",)
CATEGORICAL = (
    "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY",
    "DEAR", "DEYE", "DREM", "SEX", "RAC1P",
)  # fmt: skip
FEATURES = (*NUMERIC, *CATEGORICAL)


def train(reference: pd.DataFrame) -> tuple[object, object]:
    """The baseline pipeline and its group-threshold mitigation, fitted on ``reference``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from alignops.evidence.mitigation import GroupThresholdClassifier

    X = reference[list(FEATURES)]
    y = reference[LABEL].to_numpy()
    encode = ColumnTransformer(
        [
            (
                "codes",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                list(CATEGORICAL),
            ),
            ("age", "passthrough", list(NUMERIC)),
        ],
        verbose_feature_names_out=False,
    )
    baseline = Pipeline(
        [
            ("encode", encode),
            ("model", GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0)),
        ]
    ).fit(X, y)
    fair = GroupThresholdClassifier(baseline, list(PROTECTED), min_group_size=50).fit(X)
    return baseline, fair


def save(model: object, path: Path) -> str:
    """Write the model with skops; return the file's sha256."""
    import skops.io as sio

    data = sio.dumps(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


_MODEL = """\
apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: {name}
  labels:
    team: workforce-analytics
spec:
  version: "1.0.0"
  task: classification
  riskLevel: high
  owner: workforce-analytics@example.com
  description: {description}
  artifact:
    uri: models/{name}/model.skops
    sha256: "{sha256}"
    format: skops
  datasets:
    training: acs-reference-2015
    evaluation: acs-production-2018
  features: [{features}]
"""

PEOPLE = (
    ("ada", "ada@example.com", ("ai-ethics-committee",)),
    ("grace", "grace@example.com", ("ai-ethics-committee",)),
    ("lin", "lin@example.com", ("legal-compliance",)),
)
ADMINS = ("ada", "lin")


def generate(directory: Path) -> None:
    """Train both models, pin their digests, and create the demo approvers and their keys."""
    reference = pd.read_parquet(directory / "data" / "reference-2015.parquet")
    baseline, fair = train(reference)
    descriptions = {
        "employment-baseline": "Gradient-boosted trees on ACS 2015, no mitigation.",
        "employment-fair": "employment-baseline with a decision threshold per (SEX, RAC1P) group.",
    }
    for name, model in (("employment-baseline", baseline), ("employment-fair", fair)):
        folder = directory / "models" / name
        digest = save(model, folder / "model.skops")
        (folder / "model.yaml").write_text(
            _MODEL.format(
                name=name,
                description=descriptions[name],
                sha256=digest,
                features=", ".join(FEATURES),
            )
        )
    keys = directory / ".alignops" / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    members: list[str] = []
    groups: dict[str, list[str]] = {}
    for name, email, member_of in PEOPLE:
        private, public = generate_ed25519(comment=email)
        (keys / name).write_bytes(private)
        (keys / name).chmod(0o600)
        (keys / f"{name}.pub").write_text(f"{public}\n")
        members.append(f"  - name: {name}\n    email: {email}\n    keys:\n      - {public}\n")
        for group in member_of:
            groups.setdefault(group, []).append(name)
    governance = directory / "governance" / "groups.yaml"
    governance.parent.mkdir(parents=True, exist_ok=True)
    governance.write_text(
        "# Who may approve model versions, with which SSH keys. Changes to this file need a\n"
        "# signed approval by an admin of its previous version other than the author.\n"
        "apiVersion: alignops.dev/v1alpha1\n"
        "kind: Governance\n"
        f"admins: [{', '.join(ADMINS)}]\n"
        "members:\n"
        + "".join(members)
        + "groups:\n"
        + "".join(
            f"  - name: {group}\n    members: [{', '.join(names)}]\n"
            for group, names in groups.items()
        )
    )
