"""What the remediation tests share: alert facts as the monitor reads them, and a config
repository whose model declares its data and whose policy watches its drift."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from alignops.manifests.config import Environment
from alignops.manifests.kinds.policy import Remediation
from alignops.monitor.remediate import AlertFacts
from tests.reconcile.conftest import Delivery

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
SINCE = datetime(2025, 3, 14, 5, 0, tzinfo=UTC)
ALERT = 42

TRAINING = b"x1,x2,label\n2.0,1.0,1\n-2.0,-1.0,0\n0.3,-0.2,1\n"

DATASET = """\
apiVersion: alignops.dev/v1alpha1
kind: Dataset
metadata:
  name: scorer-train
spec:
  uri: data/train.csv
  sha256: "{sha256}"
  role: training
  label: label
"""

POLICY = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeploymentPolicy
metadata:
  name: scorer-drift
spec:
  modelName: scorer-v1
  requirements:
    - type: DataDriftMonitoring
      threshold: 0.1
      alertTarget: log
      remediation:
        action: retrain
"""


def series() -> list[dict[str, Any]]:
    """Four hourly windows: x1 drifts from the second on, x2 stays under 0.1."""
    points = [(0.04, 0.02), (0.18, 0.05), (0.31, 0.07), (0.27, 0.09)]
    out = []
    for i, (x1, x2) in enumerate(points):
        start = SINCE - timedelta(hours=1) + timedelta(hours=i)
        out.append(
            {
                "window": start.isoformat(),
                "value": max(x1, x2),
                "threshold": 0.1,
                "features": {"x1": x1, "x2": x2},
            }
        )
    return out


def facts(revision: str, *, environment: str = "staging", **changes: Any) -> AlertFacts:
    values: dict[str, Any] = {
        "alert_id": ALERT,
        "rule": "scorer-drift/DataDriftMonitoring",
        "environment": environment,
        "deployment": "scorer-api",
        "revision": revision,
        "metric": "psi",
        "summary": "Data drift on scorer-api (staging): x1 PSI 0.31 > 0.1",
        "severity": "warning",
        "series": series(),
        "since": SINCE,
    }
    values.update(changes)
    return AlertFacts(**values)


def staging(delivery: Delivery) -> Environment:
    environment = delivery.snapshot().config.environment("staging")
    assert environment is not None
    return environment


def remediation(action: str, **fields: Any) -> Remediation:
    return Remediation.model_validate({"action": action, **fields})


def with_data_and_policy(delivery: Delivery) -> str:
    """The model declares its training data; a policy watches its drift. Committed."""
    delivery.repo.write("data/train.csv", TRAINING.decode())
    delivery.repo.write(
        "datasets/scorer-train.yaml",
        DATASET.format(sha256=hashlib.sha256(TRAINING).hexdigest()),
    )
    model = delivery.repo.path / "models/scorer-v1.yaml"
    model.write_text(model.read_text() + "  datasets:\n    training: scorer-train\n")
    delivery.repo.write("policies/scorer-drift.yaml", POLICY)
    return delivery.repo.commit("declare the training data; watch drift")
