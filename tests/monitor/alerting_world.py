"""What the alert tests share: a config repository whose model declares its reference
data and protected attribute, a deployment in production watched by a drift and a
fairness requirement, telemetry segments written by the runtime's own writer, capture
servers for Slack and a signed webhook, and a monitor on a clock the test moves."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from alignops.audit import AuditLog
from alignops.monitor import Monitor, MonitorReport
from alignops.runtime.telemetry import Telemetry
from alignops.store import Database, default_database_url
from alignops.store.schema import notifications
from alignops.testing.http_capture import HttpCapture
from tests.conftest import Repo

START = datetime(2026, 1, 5, 10, tzinfo=UTC)
"""The first window of the tests' traffic (hourly windows)."""
HOUR = timedelta(hours=1)
SLACK_PATH = "/services/T000/B000/very-secret-token"
WEBHOOK_KEY = "hmac-key-that-must-never-leak"

CONFIG = """\
# alignops.yaml
version: 1
environments:
  - name: staging
    target: local
  - name: production
    target: local
targets:
  - name: local
    provider: local
monitoring:
  windowSeconds: 3600
  minRequests: {min_requests}
notifications:
  maxAttempts: 3
  backoffSeconds: 60
"""

MODEL = """\
apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: scorer-v1
  labels:
    team: risk
spec:
  version: "1.0.0"
  riskLevel: high
  artifact:
    uri: models/scorer-v1.skops
    sha256: "{sha256}"
  features: [x1, x2]
  datasets:
    reference: scorer-ref
"""

DATASET = """\
apiVersion: alignops.dev/v1alpha1
kind: Dataset
metadata:
  name: scorer-ref
spec:
  uri: data/reference.csv
  sha256: "{sha256}"
  role: reference
  label: label
  protectedAttributes: [group]
"""

DEPLOYMENT = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: scorer-api
  labels:
    team: risk
spec:
  model: scorer-v1
  environment: production
"""

POLICY = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeploymentPolicy
metadata:
  name: scorer-watch
spec:
  modelName: scorer-v1
  requirements:
    - type: DataDriftMonitoring
      threshold: 0.1
      alertTarget: slack://#ml-alerts
      severity: {severity}
{remediation}    - type: BiasDetection
      maxDisparity: 0.2
      minGroupSize: 10
      alertTarget: slack://#ml-alerts
    - type: PerformanceThreshold
      metric: accuracy
      min: 0.8
"""

ROUTES = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: ml-alerts
spec:
  target: slack://#ml-alerts
  secretRef:
    env: TEST_SLACK_URL
---
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: risk-webhook
spec:
  target: webhook://{webhook}/hooks/alignops
  secretRef:
    env: TEST_WEBHOOK_KEY
  match:
    labels:
      environment: production
"""


def reference_csv(rows: int = 2000, seed: int = 7) -> bytes:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 1, rows)
    x2 = rng.normal(0, 1, rows)
    group = np.where(rng.random(rows) < 0.5, "a", "b")
    label = (x1 + x2 > 0).astype(int)
    out = io.StringIO()
    out.write("x1,x2,group,label\n")
    for values in zip(x1, x2, group, label, strict=True):
        out.write(f"{values[0]:.6f},{values[1]:.6f},{values[2]},{values[3]}\n")
    return out.getvalue().encode()


@dataclass
class World:
    """The repository, its database and audit log, the capture servers and the clock."""

    repo: Repo
    db: Database
    audit: AuditLog
    slack: HttpCapture
    webhook: HttpCapture
    now: datetime = START
    start: datetime = START
    """Where window number 0 starts (the CLI tests, whose clock is the real one, move it
    to the last hours)."""
    revision: str = ""
    log: io.StringIO = field(default_factory=io.StringIO)
    _seq: int = 0

    @property
    def state_dir(self) -> Path:
        return self.repo.path / ".alignops"

    def configure(
        self,
        *,
        min_requests: int = 30,
        severity: str = "warning",
        remediation: str = "",
        extra: dict[str, str] | None = None,
        message: str = "watch scorer-api",
    ) -> str:
        """Write and commit the repository; the new revision."""
        artifact = b"not a real model: the monitor never opens it"
        data = reference_csv()
        self.repo.write("models/scorer-v1.skops", artifact.decode())
        self.repo.write("models/scorer-v1.yaml", MODEL.format(sha256=_sha(artifact)))
        self.repo.write("data/reference.csv", data.decode())
        self.repo.write("datasets/scorer-ref.yaml", DATASET.format(sha256=_sha(data)))
        self.repo.write("deployments/scorer-api.yaml", DEPLOYMENT)
        self.repo.write(
            "policies/scorer-watch.yaml", POLICY.format(severity=severity, remediation=remediation)
        )
        self.repo.write("alerts/routes.yaml", ROUTES.format(webhook=self.webhook.address))
        self.repo.write("alignops.yaml", CONFIG.format(min_requests=min_requests))
        for path, text in (extra or {}).items():
            self.repo.write(path, text)
        self.revision = self.repo.commit(message)
        return self.revision

    def traffic(
        self,
        window: int,
        *,
        requests: int = 1000,
        shift: float = 0.0,
        shift_x2: float = 0.0,
        revision: str | None = None,
        bias: bool = False,
        latency_ms: float = 4.0,
        errors: int = 0,
    ) -> Path:
        """One telemetry segment of ``requests`` one-row requests in window number
        ``window`` (hours after START), as the runtime's writer writes it: x1 shifted
        by ``shift`` standard deviations (x2 by ``shift_x2``); with ``bias``, group a
        always gets 1 and group b always 0."""
        rng = np.random.default_rng(1000 + window + self._seq)
        self._seq += 1
        telemetry = Telemetry(
            self.state_dir / "telemetry",
            deployment="scorer-api",
            environment="production",
            revision=revision or self.revision,
            memory_limit_mb=512,
            flush_seconds=60,
            max_batch_rows=100_000,
            buffer_limit=100_000,
        )
        before = set(telemetry.directory.glob("*.parquet"))
        start = self.start + window * HOUR
        step = 3_000_000_000 // requests  # spread over the window's first 50 minutes
        for i in range(requests):
            x1 = float(rng.normal(shift, 1))
            x2 = float(rng.normal(shift_x2, 1))
            group = "a" if i % 2 == 0 else "b"
            prediction = (1 if group == "a" else 0) if bias else int(rng.random() < 0.5)
            status = 500 if i < errors else 200
            body = json.dumps({"rows": [{"x1": x1, "x2": x2, "group": group}]}).encode()
            answer = json.dumps({"predictions": [prediction]}).encode()
            ts = int(start.timestamp() * 1_000_000) + i * step
            telemetry.record(
                (f"w{window}-{self._seq}-{i}", ts, "scorer-v1", "1.0.0", status, latency_ms,
                 False, 1, body, answer if status == 200 else None,
                 "model-error" if status != 200 else None, max(1, int(latency_ms)))
            )  # fmt: skip
        assert telemetry.close()
        (path,) = set(telemetry.directory.glob("*.parquet")) - before
        return path

    def after(self, window: int) -> datetime:
        """A moment when window number ``window`` has closed and settled."""
        return self.start + (window + 1) * HOUR + timedelta(minutes=1)

    def monitor(self, **options: Any) -> Monitor:
        return Monitor(
            self.repo.git,
            database=self.db,
            audit=self.audit,
            clock=lambda: self.now,
            notifier_options={"log_stream": self.log},
            **options,
        )

    def tick(self, monitor: Monitor, at: datetime | None = None) -> MonitorReport:
        if at is not None:
            self.now = at
        return monitor.tick()

    def outbox(self) -> list[dict[str, Any]]:
        with self.db.transaction() as conn:
            rows = conn.execute(select(notifications).order_by(notifications.c.id))
            return [dict(r._mapping) for r in rows]

    def slack_posts(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.slack.requests]

    def webhook_posts(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.webhook.requests]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(name="world")
def world_fixture(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The repository configured and committed, Slack and webhook capture servers whose
    URL and key are in the routes' secret variables."""
    db = Database(default_database_url(repo.path))
    with HttpCapture() as slack, HttpCapture() as webhook:
        monkeypatch.setenv("TEST_SLACK_URL", slack.url_for(SLACK_PATH))
        monkeypatch.setenv("TEST_WEBHOOK_KEY", WEBHOOK_KEY)
        (repo.path / "functions" / "scorer.yaml").unlink()
        (repo.path / "finops" / "budgets.yaml").unlink()
        world = World(repo, db, AuditLog(db), slack, webhook)
        world.configure()
        try:
            yield world
        finally:
            db.close()
